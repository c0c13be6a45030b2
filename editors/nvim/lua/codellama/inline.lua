--- Suggestions in insert mode: ghost text on Neovim 0.12 (`vim.lsp.inline_completion`),
--- completion items on Neovim 0.11 (`vim.lsp.completion`), and the keys that drive them.
local M = {}

--- Whether this Neovim has built-in inline completion (0.12+).
function M.has_ghost_text()
  return vim.lsp.inline_completion ~= nil
end

--- Whether the completion menu is up (also without a UI to draw it, as in tests).
local function pumvisible()
  if vim.fn.pumvisible() == 1 then
    return true
  end
  local info = vim.fn.complete_info({ "mode", "items" })
  return info.mode ~= "" and #info.items > 0
end

--- Key handlers: each returns the keys to type instead (expr mappings), "" when it acted.
local ghost = {
  accept = function(key)
    return vim.lsp.inline_completion.get() and "" or key
  end,
  next = function()
    vim.lsp.inline_completion.select({ count = 1 })
    return ""
  end,
  prev = function()
    vim.lsp.inline_completion.select({ count = -1 })
    return ""
  end,
  dismiss = function(key)
    -- Accepting with a handler that does nothing drops the suggestion and its pending requests.
    return vim.lsp.inline_completion.get({ on_accept = function() end }) and "" or key
  end,
}

local menu = {
  accept = function(key)
    if not pumvisible() then
      return key
    end
    return vim.fn.complete_info({ "selected" }).selected == -1 and "<C-n><C-y>" or "<C-y>"
  end,
  next = function()
    if pumvisible() then
      return "<C-n>"
    end
    vim.lsp.completion.get()
    return ""
  end,
  prev = function(key)
    return pumvisible() and "<C-p>" or key
  end,
  dismiss = function(key)
    return pumvisible() and "<C-e>" or key
  end,
}

local DESCRIPTIONS = {
  accept = "Code Llama: accept the suggestion",
  next = "Code Llama: next suggestion",
  prev = "Code Llama: previous suggestion",
  dismiss = "Code Llama: dismiss the suggestion",
}

--- Buffer-local insert-mode keys.
---@param bufnr integer
---@param keymaps table<string, string|false>
function M.map_keys(bufnr, keymaps)
  local handlers = M.has_ghost_text() and ghost or menu
  for action, key in pairs(keymaps) do
    if key then
      vim.keymap.set("i", key, function()
        return handlers[action](key)
      end, { buffer = bufnr, expr = true, desc = DESCRIPTIONS[action] })
    end
  end
end

--- The item's whole text (Neovim 0.11 would offer only its first word).
---@param item lsp.CompletionItem
local function text_of(item)
  return item.textEdit and item.textEdit.newText or item.insertText or item.label
end

--- A completion-menu entry showing the suggestion's first line; the rest follows on accept.
---@param item lsp.CompletionItem
local function as_menu_item(item)
  return { word = text_of(item):match("^[^\n]*") }
end

--- After a suggestion is accepted from the menu, inserts its lines after the first.
---@param client vim.lsp.Client
---@param bufnr integer
local function insert_rest_on_accept(client, bufnr)
  vim.api.nvim_create_autocmd("CompleteDone", {
    group = vim.api.nvim_create_augroup("codellama.complete." .. bufnr, { clear = true }),
    buffer = bufnr,
    callback = function()
      local lsp_data = vim.tbl_get(vim.v.completed_item, "user_data", "nvim", "lsp") or {}
      local rest = lsp_data.completion_item and text_of(lsp_data.completion_item):match("^[^\n]*\n(.*)$")
      if vim.v.event.reason ~= "accept" or lsp_data.client_id ~= client.id or not rest then
        return
      end
      local row, col = unpack(vim.api.nvim_win_get_cursor(0))
      local lines = vim.split(rest, "\n", { plain = true })
      table.insert(lines, 1, "")
      vim.api.nvim_buf_set_text(bufnr, row - 1, col, row - 1, col, lines)
      vim.api.nvim_win_set_cursor(0, { row + #lines - 1, #lines[#lines] })
    end,
  })
end

--- Turns suggestions on for one buffer the client attached to.
---@param client vim.lsp.Client
---@param bufnr integer
---@param opts table resolved options
function M.attach(client, bufnr, opts)
  if not opts.inline then
    return
  end
  if M.has_ghost_text() then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
  else
    vim.lsp.completion.enable(true, client.id, bufnr, { autotrigger = true, convert = as_menu_item })
    insert_rest_on_accept(client, bufnr)
  end
  M.map_keys(bufnr, opts.keymaps)
end

return M
