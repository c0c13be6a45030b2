--- The server's state as its `codellama/didChangeStatus` notification tells it: the statusline
--- text, the `User CodellamaStatus` event, and the status that `:CodellamaStatus` shows.
local M = {}

--- The notification's method (server/status.py).
M.NOTIFICATION = "codellama/didChangeStatus"

local NAME = "codellama"

---@class codellama.Status the notification's params
---@field state "idle"|"loading"|"ready"|"error"
---@field model string
---@field revision string
---@field device string|vim.NIL where the model runs, once ready
---@field message string the load step while loading, the reason on error
---@field percentage integer|vim.NIL the load's progress, while loading
---@field busy integer code actions being generated
---@field placement string the `engine` setting: "in-process", "shared", or the URL of the server that answers

--- The statusline text of each state the server sends.
---@type table<string, fun(status: codellama.Status): string>
local TEXT = {
  idle = function()
    return "Code Llama: starting"
  end,
  loading = function(status)
    return ("Code Llama: loading model %d%%"):format(tonumber(status.percentage) or 0)
  end,
  ready = function(status)
    local busy = tonumber(status.busy) or 0
    if busy > 1 then
      return ("Code Llama: generating (%d)"):format(busy)
    end
    return busy == 1 and "Code Llama: generating" or "Code Llama: ready"
  end,
  error = function()
    return "Code Llama: error"
  end,
}

---@type table<integer, codellama.Status>
local by_client = {}

--- Where the model runs, unless in the language server: " (shared, cuda:0)", " (shared)" or
--- " (http://host:8000/v1)"; "" in-process (and from a server that does not say).
---@param status codellama.Status
---@return string
function M.placement(status)
  local placement = status.placement
  if type(placement) ~= "string" or placement == "in-process" then
    return ""
  end
  if placement == "shared" and type(status.device) == "string" then
    return (" (shared, %s)"):format(status.device)
  end
  return (" (%s)"):format(placement)
end

--- A shared or URL engine's connection, from the `engine` figures of `codellama.status`: the
--- health level ("ok", "error", or "info" before the first try) and a line; nil in-process.
---@param engine table
---@return string|nil level, string|nil line
function M.connection(engine)
  if type(engine.url) ~= "string" then
    return nil, nil
  end
  local function field(value)
    return type(value) == "string" and value or nil
  end
  if engine.reachable == true then
    local served = field(engine.servedModel)
    return "ok", ("engine at %s: reachable%s"):format(engine.url, served and (", serves " .. served) or "")
  elseif engine.reachable == false then
    local why = field(engine.lastError)
    return "error", ("engine at %s: not reachable%s"):format(engine.url, why and (": " .. why) or "")
  end
  return "info", ("engine at %s: not tried yet"):format(engine.url)
end

--- The statusline text of one status; "Code Llama: starting" before the first one.
---@param status codellama.Status|nil
---@return string
function M.text(status)
  local text = status and TEXT[status.state]
  return text and text(status) .. M.placement(status) or "Code Llama: starting"
end

--- Handles the notification (the client config's `handlers`): keeps the status, redraws the
--- statusline and fires `User CodellamaStatus`.
---@type lsp.Handler
function M.handler(_, params, ctx)
  if type(params) ~= "table" or TEXT[params.state] == nil then
    return
  end
  by_client[ctx.client_id] = params
  vim.cmd.redrawstatus({ bang = true })
  vim.api.nvim_exec_autocmds("User", {
    pattern = "CodellamaStatus",
    modeline = false,
    data = { client_id = ctx.client_id, status = params },
  })
end

--- The running codellama client and its last status (nil before the first one, or when none runs).
---@return codellama.Status|nil, vim.lsp.Client|nil
function M.current()
  local client = vim.lsp.get_clients({ name = NAME })[1]
  if not client then
    return nil, nil
  end
  return by_client[client.id], client
end

--- A short line for a statusline: "" when no server runs.
---@return string
function M.line()
  local status, client = M.current()
  return client and M.text(status) or ""
end

return M
