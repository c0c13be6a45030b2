--- Suggestions in insert mode: ghost text on Neovim 0.12 (`vim.lsp.inline_completion`),
--- completion items on Neovim 0.11 (`vim.lsp.completion`), and the keys that drive them.
local M = {}

local config = require("codellama.config")
local requests = require("codellama.requests")

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

--- The part of `rest` that accepting a word or a line takes: a word (or a run of punctuation) with
--- the blanks before it; the line up to its end, or the next line when `rest` starts with a break.
---@param rest string
---@param part "word"|"line"
---@return string
function M.part_of(rest, part)
  if part == "line" then
    return rest:match("^\n[^\n]*") or rest:match("^[^\n]*")
  end
  return rest:match("^%s*[%w_]+") or rest:match("^%s*[^%w_%s]+") or rest
end

--- Shows the rest of the suggestion at once. Without this, Neovim shows it again only when it next
--- asks (200 ms after the cursor moved; requests.lua then answers from the rest). Neovim has no public
--- call for it, so this uses its ghost-text state where it is as in 0.12, and does nothing otherwise.
---@param client_id integer
local function show_rest(client_id)
  local bufnr, client = vim.api.nvim_get_current_buf(), vim.lsp.get_client_by_id(client_id)
  local ok, completor = pcall(function()
    return require("vim.lsp._capability").all.inline_completion.active[bufnr]
  end)
  local rest = requests.remainder(bufnr)
  if not (ok and completor and completor.handler and client and #rest > 0) then
    return
  end
  local here = vim.lsp.util.make_position_params(0, client.offset_encoding).position
  local items = vim.tbl_map(function(text)
    return { insertText = text, range = { start = here, ["end"] = here } }
  end, rest)
  pcall(completor.handler, completor, nil, { items = items }, { client_id = client_id, bufnr = bufnr })
end

--- Inserts a part of the accepted item at the cursor; the rest shows again (requests.lua answers from it).
---@param item vim.lsp.inline_completion.Item
---@param part "word"|"line"
local function insert_part(item, part)
  local text = type(item.insert_text) == "string" and item.insert_text or item.insert_text.value
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  local rest = text
  if item.range then -- the text starts at the range; what was typed since is not inserted again
    local start = item.range.start:to_cursor()
    local typed = table.concat(vim.api.nvim_buf_get_text(0, start[1] - 1, start[2], row - 1, col, {}), "\n")
    rest = vim.startswith(text, typed) and text:sub(#typed + 1) or text
  end
  local lines = vim.split(M.part_of(rest, part), "\n", { plain = true })
  vim.api.nvim_buf_set_text(0, row - 1, col, row - 1, col, lines)
  vim.api.nvim_win_set_cursor(0, { row + #lines - 1, (#lines == 1 and col or 0) + #lines[#lines] })
  show_rest(item.client_id)
end

local function accept_part(part)
  return function(key)
    local accepted = vim.lsp.inline_completion.get({
      on_accept = function(item)
        insert_part(item, part)
      end,
    })
    return accepted and "" or key
  end
end

--- Key handlers: each returns the keys to type instead (expr mappings), "" when it acted.
local ghost = {
  accept = function(key)
    return vim.lsp.inline_completion.get() and "" or key
  end,
  accept_word = accept_part("word"),
  accept_line = accept_part("line"),
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
    requests.forget(vim.api.nvim_get_current_buf())
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
  accept_word = function(key)
    return key
  end,
  accept_line = function(key)
    return key
  end,
}

local DESCRIPTIONS = {
  accept = "Code Llama: accept the suggestion",
  accept_word = "Code Llama: accept the suggestion's next word",
  accept_line = "Code Llama: accept the suggestion's next line",
  next = "Code Llama: next suggestion",
  prev = "Code Llama: previous suggestion",
  dismiss = "Code Llama: dismiss the suggestion",
}

--- Buffer-local insert-mode keys.
---@param bufnr integer
---@param keys table<string, string|false>
function M.map_keys(bufnr, keys)
  local handlers = M.has_ghost_text() and ghost or menu
  for action, key in pairs(keys) do
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
    requests.attach(client, config.debounce_ms(opts))
    requests.watch(bufnr)
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
  else
    vim.lsp.completion.enable(true, client.id, bufnr, { autotrigger = true, convert = as_menu_item })
    insert_rest_on_accept(client, bufnr)
  end
  M.map_keys(bufnr, opts.keys)
end

return M
