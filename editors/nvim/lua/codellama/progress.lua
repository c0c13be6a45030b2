--- The server's state as `$/progress` tells it (LspProgress): loading, ready, generating, error.
local M = {}

local NAME = "codellama"

---@class codellama.State
---@field phase "starting"|"loading"|"ready"|"error"
---@field percentage integer|nil while loading
---@field message string|nil the last message of the model's progress
---@field tasks table<string, string> running generations: token -> title

---@type table<integer, codellama.State>
local clients = {}

local function state(client_id)
  clients[client_id] = clients[client_id] or { phase = "starting", tasks = {} }
  return clients[client_id]
end

local function is_load(title)
  return title ~= nil and title:find("loading model", 1, true) ~= nil
end

--- Folds one `$/progress` value into the client's state.
---@param client_id integer
---@param token string|integer
---@param value table
function M.update(client_id, token, value)
  local s = state(client_id)
  token = tostring(token)
  if value.kind == "begin" and is_load(value.title) then
    s.phase, s.percentage, s.message, s.load_token = "loading", value.percentage or 0, value.message, token
  elseif value.kind == "begin" then
    s.tasks[token] = value.title or "generating"
  elseif token == s.load_token and value.kind == "report" then
    s.percentage = value.percentage or s.percentage
    s.message = value.message or s.message
  elseif token == s.load_token and value.kind == "end" then
    s.phase = (value.message == "failed") and "error" or "ready"
    s.message, s.percentage, s.load_token = value.message, nil, nil
  elseif value.kind == "end" then
    s.tasks[token] = nil
  end
end

--- The state of the running codellama client (nil when none runs).
---@return codellama.State|nil, vim.lsp.Client|nil
function M.current()
  local client = vim.lsp.get_clients({ name = NAME })[1]
  if not client then
    return nil, nil
  end
  return state(client.id), client
end

--- A short line for a statusline: "" when no server runs.
---@return string
function M.status()
  local s = M.current()
  if not s then
    return ""
  end
  if s.phase == "loading" then
    return ("Code Llama: loading model %d%%"):format(s.percentage or 0)
  elseif s.phase == "error" then
    return "Code Llama: error"
  elseif next(s.tasks) then
    return "Code Llama: generating"
  elseif s.phase == "ready" then
    return "Code Llama: ready"
  end
  return "Code Llama: starting"
end

--- Listens to LspProgress; safe to call again.
function M.listen()
  local group = vim.api.nvim_create_augroup("codellama.progress", { clear = true })
  vim.api.nvim_create_autocmd("LspProgress", {
    group = group,
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      local params = ev.data.params
      if client and client.name == NAME and params and type(params.value) == "table" then
        M.update(client.id, params.token, params.value)
        vim.cmd.redrawstatus({ bang = true })
      end
    end,
  })
end

return M
