--- Defaults, validation and the `vim.lsp.config` table for the codellama server.
local M = {}

local status = require("codellama.status")

M.defaults = {
  cmd = { "codellama-lsp" },
  --- The server's `codellama` settings (model, revision, device, engine, contextTokens, inline, actions…).
  settings = {},
  --- Filetypes to attach to; nil attaches to every filetype.
  filetypes = nil,
  root_markers = { ".git" },
  --- Ghost text (Neovim 0.12) or completion items (Neovim 0.11) in attached buffers.
  inline = true,
  --- Insert-mode keys; false disables one.
  keys = {
    accept = "<Tab>",
    accept_word = "<M-Right>",
    accept_line = "<M-Down>",
    next = "<M-]>",
    prev = "<M-[>",
    dismiss = "<C-]>",
  },
}

--- The key actions, in the order the docs list them.
M.KEY_ACTIONS = { "accept", "accept_word", "accept_line", "next", "prev", "dismiss" }

--- How long a ghost-text request waits after the last keystroke when the settings do not say
--- (the server's default of `inline.debounceMs`, server/options.py).
M.DEBOUNCE_MS = 250

local function key_or_false(v)
  return v == false or type(v) == "string"
end

--- Validates user options and merges them over the defaults.
---@param opts table|nil
---@return table
function M.resolve(opts)
  vim.validate("opts", opts, "table", true)
  opts = opts or {}
  vim.validate("opts.cmd", opts.cmd, { "table", "function" }, true)
  vim.validate("opts.settings", opts.settings, "table", true)
  vim.validate("opts.filetypes", opts.filetypes, "table", true)
  vim.validate("opts.root_markers", opts.root_markers, "table", true)
  vim.validate("opts.inline", opts.inline, "boolean", true)
  if opts.keymaps ~= nil then -- the option's earlier name
    opts = vim.deepcopy(opts)
    if opts.keys == nil then
      opts.keys = opts.keymaps
    end
    opts.keymaps = nil
  end
  vim.validate("opts.keys", opts.keys, { "table", "boolean" }, true)
  if type(opts.keys) == "table" then
    for _, name in ipairs(M.KEY_ACTIONS) do
      vim.validate("opts.keys." .. name, opts.keys[name], key_or_false, true, "a key string or false")
    end
  end
  local resolved = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts)
  if opts.keys == false then
    resolved.keys = {}
    for _, name in ipairs(M.KEY_ACTIONS) do
      resolved.keys[name] = false
    end
  end
  if opts.cmd then
    resolved.cmd = opts.cmd -- a list replaces the default, never merges into it
  end
  return resolved
end

--- The `inline.debounceMs` setting, else the server's default.
---@param opts table resolved options
---@return integer
function M.debounce_ms(opts)
  local ms = vim.tbl_get(opts.settings, "inline", "debounceMs")
  return type(ms) == "number" and ms >= 0 and ms or M.DEBOUNCE_MS
end

--- The settings table as the server wants it: a JSON object, never an empty array.
---@param settings table
local function object(settings)
  return next(settings) and settings or vim.empty_dict()
end

--- The table for `vim.lsp.config("codellama", ...)`.
---@param opts table resolved options
---@return vim.lsp.Config
function M.lsp_config(opts)
  return {
    cmd = opts.cmd,
    filetypes = opts.filetypes,
    root_markers = opts.root_markers,
    init_options = object(opts.settings),
    settings = { codellama = object(opts.settings) },
    -- The server counts columns in UTF-16 code units (the LSP default); offering only that
    -- keeps it from choosing UTF-8, which Neovim would otherwise offer first.
    capabilities = { general = { positionEncodings = { "utf-16" } } },
    -- The server's state, for the statusline and :CodellamaStatus.
    handlers = { [status.NOTIFICATION] = status.handler },
  }
end

return M
