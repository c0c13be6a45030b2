--- Ghost-text requests on their way to the server. Each waits until `debounce_ms` have passed
--- since the last keystroke, and one that a newer request replaces meanwhile is never sent. While
--- the user types (or accepts a part of) what the shown suggestion predicted, the rest of it is the
--- answer, given here without asking the server.
local M = {}

local METHOD = "textDocument/inlineCompletion"

---@class codellama.Shown the suggestions last answered in a buffer, and where
---@field row integer 0-based
---@field col integer byte column
---@field head string the line before `col`
---@field tail string the line after `col`
---@field texts string[]

---@class codellama.BufferState
---@field typed_at integer when the last keystroke came (vim.uv.now())
---@field pending? uv.uv_timer_t the request waiting to be sent
---@field shown? codellama.Shown

---@type table<integer, codellama.BufferState>
local buffers = {}

local function state(bufnr)
  buffers[bufnr] = buffers[bufnr] or { typed_at = 0 }
  return buffers[bufnr]
end

local function cursor_of(bufnr)
  local win = vim.fn.bufwinid(bufnr)
  local row, col = unpack(vim.api.nvim_win_get_cursor(win ~= -1 and win or 0))
  return row - 1, col
end

local function line_at(bufnr, row)
  return vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
end

--- What is left of each shown suggestion that the text typed since agrees with; {} once the buffer
--- changed in any other way.
---@param bufnr integer
---@return string[]
function M.remainder(bufnr)
  local shown = state(bufnr).shown
  local row, col = cursor_of(bufnr)
  if not shown or row < shown.row or (row == shown.row and col < shown.col) then
    return {}
  end
  local first, last = line_at(bufnr, shown.row), line_at(bufnr, row)
  if first:sub(1, shown.col) ~= shown.head or last:sub(col + 1) ~= shown.tail then
    return {}
  end
  local typed = table.concat(vim.api.nvim_buf_get_text(bufnr, shown.row, shown.col, row, col, {}), "\n")
  local rest = {}
  for _, text in ipairs(shown.texts) do
    if #text > #typed and vim.startswith(text, typed) then
      table.insert(rest, text:sub(#typed + 1))
    end
  end
  return rest
end

--- Forgets the buffer's suggestion (dismissed): the next request goes to the server.
---@param bufnr integer
function M.forget(bufnr)
  state(bufnr).shown = nil
end

local function stop(timer)
  if timer and not timer:is_closing() then
    timer:stop()
    timer:close()
  end
end

--- Sends the request now; its answer becomes the buffer's shown suggestion.
local function send(client, request, bufnr, params, handler)
  local row, col = cursor_of(bufnr)
  local line = line_at(bufnr, row)
  return request(client, METHOD, params, function(err, result, ctx)
    local texts = {}
    for _, item in ipairs(type(result) == "table" and (result.items or result) or {}) do
      if type(item.insertText) == "string" then
        table.insert(texts, item.insertText)
      end
    end
    local shown = { row = row, col = col, head = line:sub(1, col), tail = line:sub(col + 1), texts = texts }
    state(bufnr).shown = not err and #texts > 0 and shown or nil
    handler(err, result, ctx)
  end, bufnr)
end

--- Routes the client's inline completion requests through the rules above; safe to call again.
---@param client vim.lsp.Client
---@param debounce_ms integer
function M.attach(client, debounce_ms)
  if client._codellama_request then
    client._codellama_debounce_ms = debounce_ms
    return
  end
  local request = client.request
  client._codellama_request, client._codellama_debounce_ms = request, debounce_ms
  client.request = function(self, method, params, handler, bufnr)
    if method ~= METHOD or type(params) ~= "table" or not params.textDocument then
      return request(self, method, params, handler, bufnr)
    end
    bufnr = vim.uri_to_bufnr(params.textDocument.uri)
    if bufnr ~= vim.api.nvim_get_current_buf() then
      return true, nil -- Neovim 0.12 asks for every buffer with ghost text on, at the current cursor
    end
    local s = state(bufnr)
    stop(s.pending) -- superseded: never sent
    s.pending = nil
    local rest = M.remainder(bufnr)
    if #rest > 0 then
      local here = { start = params.position, ["end"] = params.position }
      local items = vim.tbl_map(function(text)
        return { insertText = text, range = here }
      end, rest)
      vim.schedule(function()
        handler(nil, { items = items }, { method = METHOD, client_id = self.id, bufnr = bufnr })
      end)
      return true, nil
    end
    local wait = self._codellama_debounce_ms - (vim.uv.now() - s.typed_at)
    if wait <= 0 then
      return send(self, request, bufnr, params, handler)
    end
    s.pending = vim.defer_fn(function()
      s.pending = nil
      if vim.api.nvim_get_mode().mode:sub(1, 1) == "i" and vim.api.nvim_buf_is_valid(bufnr) then
        send(self, request, bufnr, params, handler)
      end
    end, wait)
    return true, nil
  end
end

--- Tracks the buffer's keystrokes (for the debounce).
---@param bufnr integer
function M.watch(bufnr)
  local group = vim.api.nvim_create_augroup("codellama.requests." .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd({ "TextChangedI", "CursorMovedI", "InsertEnter" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      state(bufnr).typed_at = vim.uv.now()
    end,
  })
  vim.api.nvim_create_autocmd({ "InsertLeave", "BufWipeout" }, {
    group = group,
    buffer = bufnr,
    callback = function(ev)
      local s = state(bufnr)
      stop(s.pending)
      s.pending = nil
      if ev.event == "BufWipeout" then
        buffers[bufnr] = nil
      end
    end,
  })
end

return M
