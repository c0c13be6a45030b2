-- The engine's placement as the plugin shows it, against a fake server (a Lua function as `cmd`)
-- that sends the statuses of a shared and a URL engine and answers `codellama.status` as told.
-- Writes the statusline texts, :CodellamaStatus's lines and :checkhealth's reports to
-- $CODELLAMA_TEST_OUT as JSON; then quits. Environment: CODELLAMA_TEST_DIR, CODELLAMA_TEST_URL.
local root = vim.fs.dirname(vim.fs.dirname(vim.fs.dirname(vim.fs.normalize(debug.getinfo(1, "S").source:sub(2)))))
vim.opt.runtimepath:prepend(vim.fs.joinpath(root, "editors", "nvim"))
vim.opt.swapfile = false
vim.cmd.runtime("plugin/codellama.lua")

local api = vim.api
local status = require("codellama.status")
local URL = vim.env.CODELLAMA_TEST_URL
local results = { statuses = {}, errors = vim.empty_dict() }

local answer = vim.NIL -- what the fake server answers to `codellama.status`
local to_client -- the client's dispatchers: how the fake server notifies

---@type fun(dispatchers: vim.lsp.rpc.Dispatchers): vim.lsp.rpc.PublicClient
local function fake_server(dispatchers)
  to_client = dispatchers
  local closing, last_id = false, 0
  return {
    request = function(method, params, callback, notify_reply_callback)
      last_id = last_id + 1
      local id, result = last_id, vim.NIL
      if method == "initialize" then
        result = { capabilities = { executeCommandProvider = { commands = { "codellama.status" } } } }
      elseif method == "workspace/executeCommand" and params.command == "codellama.status" then
        result = answer
      end
      vim.schedule(function()
        if notify_reply_callback then
          notify_reply_callback(id)
        end
        callback(nil, result)
      end)
      return true, id
    end,
    notify = function(method)
      if method == "exit" and not closing then
        closing = true
        dispatchers.on_exit(0, 0)
      end
      return true
    end,
    is_closing = function()
      return closing
    end,
    terminate = function()
      closing = true
    end,
  }
end

require("codellama").setup({
  cmd = fake_server,
  settings = { engine = URL, apiKeyEnv = "CODELLAMA_TEST_KEY" },
  filetypes = { "python" },
})
vim.cmd.filetype("on")

local function sleep(ms)
  local co = coroutine.running()
  vim.defer_fn(function()
    assert(coroutine.resume(co))
  end, ms)
  coroutine.yield()
end

local function wait_until(what, predicate)
  for _ = 1, 200 do
    if predicate() then
      return
    end
    sleep(50)
  end
  error("timed out waiting for " .. what)
end

local function health()
  vim.cmd("checkhealth codellama")
  local lines = api.nvim_buf_get_lines(0, 0, -1, false)
  vim.cmd.bwipeout({ bang = true })
  return lines
end

--- A status as the server sends it (server/status.py).
local function sent(changes)
  local base = { state = "ready", model = "m", revision = "main", device = vim.NIL, message = "" }
  base.percentage, base.busy = vim.NIL, 0
  return vim.tbl_extend("force", base, changes)
end

local steps = {}

function steps.no_server()
  results.health_without_server = health()
end

function steps.statusline()
  local path = vim.fs.joinpath(vim.env.CODELLAMA_TEST_DIR, "x.py")
  vim.fn.writefile({ "x = 1" }, path)
  vim.cmd.edit(path)
  wait_until("the client to attach", function()
    return #vim.lsp.get_clients({ bufnr = 0, name = "codellama" }) > 0
  end)
  for _, params in ipairs({
    sent({ placement = "shared", device = "cuda:0" }),
    sent({ placement = "shared", state = "loading", percentage = 42 }),
    sent({ placement = URL }),
    sent({ placement = URL, busy = 2 }),
    sent({ placement = URL, state = "error", message = "connection refused" }),
    sent({ placement = "in-process", device = "cpu" }),
    sent({}), -- a server that does not say: in-process
  }) do
    to_client.notification(status.NOTIFICATION, params)
    table.insert(results.statuses, require("codellama").status())
  end
end

function steps.status_command()
  answer = sent({ placement = "shared", device = "cuda:0" })
  answer.engine = { url = "unix:/run/user/1000/codellama/x.sock", reachable = true, servedModel = "m",
    lastError = vim.NIL, running = 0, waiting = 0 }
  local messages, notify = {}, vim.notify
  vim.notify = function(message)
    table.insert(messages, message)
  end
  local ok, err = pcall(function()
    vim.cmd("CodellamaStatus")
    wait_until("the :CodellamaStatus answer", function()
      return #messages > 0
    end)
  end)
  vim.notify = notify
  assert(ok, err)
  results.status_lines = vim.split(messages[1], "\n", { plain = true })
end

function steps.unreachable()
  answer = sent({ placement = URL, state = "error", message = "connection refused" })
  answer.engine = { url = URL, reachable = false, servedModel = vim.NIL, lastError = "connection refused" }
  results.health_unreachable = health()
end

local function run()
  for _, name in ipairs({ "no_server", "statusline", "status_command", "unreachable" }) do
    local ok, err = pcall(steps[name])
    if not ok then
      results.errors[name] = tostring(err)
    end
  end
  vim.fn.writefile({ vim.json.encode(results) }, vim.env.CODELLAMA_TEST_OUT)
  vim.cmd("qall!")
end

vim.schedule(function()
  coroutine.wrap(run)()
end)
