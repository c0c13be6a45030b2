--- `:checkhealth codellama`: server command, Python package, GPU, model cache, engine.
local M = {}

local status = require("codellama.status")

--- The server's defaults of the settings checked here (server/options.py).
M.defaults = { model = "TheBloke/CodeLlama-70B-Instruct-GPTQ", engine = "in-process", apiKeyEnv = "CODELLAMA_API_KEY" }

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

--- The `engine` setting, and whether it is a URL (the model then runs elsewhere).
---@return string engine, boolean is_url
local function engine_setting()
  local engine = settings().engine
  engine = type(engine) == "string" and engine or M.defaults.engine -- the server refuses any other
  return engine, engine:match("^https?://") ~= nil
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
  local engine, is_url = engine_setting()
  if is_url then
    vim.health.ok(("the model runs at %s: no GPU needed here"):format(engine))
  elseif device == "cpu" then
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
  local model, revision = s.model or M.defaults.model, s.revision or "main"
  local engine, is_url = engine_setting()
  if is_url then
    vim.health.info(("model: %s (%s), asked of %s; not looked for here"):format(model, revision, engine))
  elseif model == "demo" then
    vim.health.ok("model: demo (SmolLM2-135M-Instruct, 8-bit GPTQ: short, sometimes wrong answers)")
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

--- Advice when a shared or URL engine cannot be reached.
---@param placement string
local function reach_advice(placement)
  if placement == "shared" then
    return {
      "The language server starts the shared engine itself (codellama-lsp serve --socket …): :LspLog shows why not",
      'Or run the model in the language server: settings = { engine = "in-process" }',
    }
  end
  local key = settings().apiKeyEnv or M.defaults.apiKeyEnv
  return {
    ("Start the server at %s (codellama-lsp serve, vLLM, TGI or llama.cpp's llama-server)"):format(placement),
    "Check the URL in settings.engine (OpenAI-compatible servers usually serve under /v1)",
    ("If it needs an API key, set $%s (settings.apiKeyEnv) where Neovim is started"):format(key),
  }
end

--- The model's state from the server's status.
---@param answer codellama.Status
local function report_model(answer)
  local model = ("%s (%s)"):format(tostring(answer.model), tostring(answer.revision))
  local message = type(answer.message) == "string" and answer.message or ""
  if answer.state == "ready" then
    local device = type(answer.device) == "string" and (" on " .. answer.device) or ""
    vim.health.ok(("model %s is ready%s"):format(model, device))
  elseif answer.state == "error" then
    vim.health.error(("model %s could not be loaded: %s"):format(model, message))
  elseif answer.state == "loading" then
    vim.health.info(("model %s is loading: %s"):format(model, message))
  else
    vim.health.info("no model asked for yet")
  end
end

--- Where the model runs: the `engine` setting and, when a server runs, its `codellama.status`
--- answer (placement, the engine's URL, whether it answers, the model it serves).
local function check_engine()
  local engine, is_url = engine_setting()
  if is_url then
    local key = settings().apiKeyEnv or M.defaults.apiKeyEnv
    local set = vim.env[key] ~= nil and "set" or "not set (fine if the server needs no key)"
    vim.health.info(("API key variable $%s: %s"):format(key, set))
  end
  local client = vim.lsp.get_clients({ name = "codellama" })[1]
  if not client then
    vim.health.info(("engine: %s (the setting); no server running, so not tried"):format(engine))
    return
  end
  local params = { command = "codellama.status", arguments = {} }
  local reply, why = client:request_sync("workspace/executeCommand", params, 3000)
  local answer = reply and reply.result
  if type(answer) ~= "table" then
    local reason = why or "the server is not running" -- request_sync: nil and "timeout", or nil when not sent
    if reply then
      reason = reply.err and tostring(reply.err.message) or vim.inspect(answer)
    end
    vim.health.warn(("engine: %s (the setting); codellama.status got no answer: %s"):format(engine, reason))
    return
  end
  vim.health.info(("server running (client %d): %s"):format(client.id, status.text(answer)))
  local placement = type(answer.placement) == "string" and answer.placement or M.defaults.engine
  local figures = type(answer.engine) == "table" and answer.engine or {}
  local level, line = status.connection(figures)
  if not level then
    vim.health.ok(("engine: %s (the model runs in the language server)"):format(placement))
  else
    line = placement == "shared" and ("shared " .. line) or line
    vim.health[level](line, level == "error" and reach_advice(placement) or nil)
  end
  report_model(answer)
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
  check_engine()
end

return M
