--- `:checkhealth codellama`: server command, Python package, GPU, model cache.
local M = {}

local DEFAULT_MODEL = "TheBloke/CodeLlama-70B-Instruct-GPTQ"
local PROBE = [[
import json, codellama_lsp.server, torch
cuda = torch.cuda.is_available()
print(json.dumps({"torch": torch.__version__, "cuda": cuda,
                  "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []}))
]]

--- The resolved `codellama` LSP config (setup() or lsp/codellama.lua).
local function lsp_config()
  return vim.lsp.config.codellama or {}
end

local function settings()
  local s = vim.tbl_get(lsp_config(), "settings", "codellama")
  return type(s) == "table" and s or {}
end

--- The Python that runs the server: the command itself, or its script's `#!` line, else python3.
---@param exe string full path of the server command
local function interpreter(exe)
  if vim.fs.basename(exe):match("^python") then
    return exe
  end
  local file = io.open(exe, "r")
  local first = file and file:read("*l") or ""
  if file then
    file:close()
  end
  local shebang = first:match("^#!%s*(%S+)")
  if shebang and vim.fs.basename(shebang):match("^python") then
    return shebang
  end
  local via_env = first:match("^#!%s*%S*/env%s+(python%S*)")
  return via_env and vim.fn.exepath(via_env) ~= "" and vim.fn.exepath(via_env) or "python3"
end

local function check_command()
  local cmd = lsp_config().cmd
  if type(cmd) ~= "table" or not cmd[1] then
    vim.health.info("the server command is not a list (a function or RPC connection): not checked")
    return nil
  end
  local exe = vim.fn.exepath(cmd[1])
  if exe == "" then
    vim.health.error(("server command not found: %s"):format(cmd[1]), {
      "Install the server: pip install codellama-lsp (or pip install -e . in its repository)",
      'Or point `cmd` at it: require("codellama").setup({ cmd = { "/path/to/codellama-lsp" } })',
    })
    return nil
  end
  vim.health.ok(("server command: %s"):format(exe))
  return exe
end

local function check_python(exe)
  local python = exe and interpreter(exe) or "python3"
  if vim.fn.exepath(python) == "" then
    vim.health.error("Python not found: " .. python)
    return
  end
  local ok, done = pcall(function()
    return vim.system({ python, "-c", PROBE }, { text = true }):wait(60000)
  end)
  if not ok or done.code ~= 0 then
    local why = ok and vim.trim(done.stderr or ""):match("[^\n]*$") or tostring(done)
    local advice = { "pip install codellama-lsp with this Python" }
    vim.health.error(("%s cannot import codellama_lsp: %s"):format(python, why), advice)
    return
  end
  local probe = vim.json.decode(done.stdout)
  vim.health.ok(("%s imports codellama_lsp (torch %s)"):format(python, probe.torch))
  local device = settings().device or "auto"
  if device == "cpu" then
    vim.health.ok("device is cpu: no GPU needed (only small models are usable on a CPU)")
  elseif probe.cuda then
    vim.health.ok("GPU visible: " .. table.concat(probe.gpus, ", "))
  elseif device == "auto" then
    vim.health.warn("no CUDA GPU visible: the server falls back to the CPU, far too slow for the 70B model", {
      "Check the NVIDIA driver and that torch was built with CUDA",
    })
  else
    vim.health.error(("device is %s but no CUDA GPU is visible"):format(device))
  end
end

local function hub_cache()
  local env = vim.env
  if env.HF_HUB_CACHE then
    return env.HF_HUB_CACHE
  end
  local cache = env.XDG_CACHE_HOME or vim.fs.joinpath(vim.uv.os_homedir(), ".cache")
  local home = env.HF_HOME or vim.fs.joinpath(cache, "huggingface")
  return vim.fs.joinpath(home, "hub")
end

local function check_model()
  local s = settings()
  local model, revision = s.model or DEFAULT_MODEL, s.revision or "main"
  if model == "demo" then
    vim.health.ok("model: demo (tiny random model, noise output)")
  elseif vim.fn.isdirectory(vim.fn.expand(model)) == 1 then
    local has_config = vim.uv.fs_stat(vim.fs.joinpath(vim.fn.expand(model), "config.json")) ~= nil
    if has_config then
      vim.health.ok("model: local folder " .. model)
    else
      vim.health.error("model folder has no config.json: " .. model)
    end
  else
    local folder = vim.fs.joinpath(hub_cache(), "models--" .. model:gsub("/", "--"))
    if vim.uv.fs_stat(vim.fs.joinpath(folder, "refs", revision)) then
      vim.health.ok(("model cached: %s (%s) in %s"):format(model, revision, folder))
    elseif vim.env.HF_HUB_OFFLINE == "1" then
      vim.health.error(("model not cached and HF_HUB_OFFLINE=1: %s (%s)"):format(model, revision))
    else
      vim.health.warn(("model not cached yet: %s (%s); the first start downloads it"):format(model, revision), {
        "The default model is about 35 GB: download it ahead with `huggingface-cli download " .. model .. "`",
      })
    end
  end
end

function M.check()
  vim.health.start("codellama")
  if vim.fn.has("nvim-0.11") == 1 then
    vim.health.ok("Neovim " .. tostring(vim.version()))
  else
    vim.health.error("Neovim 0.11 or newer is needed")
  end
  if vim.lsp.inline_completion then
    vim.health.ok("ghost text: vim.lsp.inline_completion")
  else
    vim.health.info("no vim.lsp.inline_completion (Neovim < 0.12): suggestions come as completion items")
  end
  local exe = check_command()
  check_python(exe)
  check_model()
  local client = vim.lsp.get_clients({ name = "codellama" })[1]
  if client then
    vim.health.info(("server running (client %d): %s"):format(client.id, require("codellama").status()))
  end
end

return M
