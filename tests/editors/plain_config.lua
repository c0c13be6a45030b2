-- Without setup(): the plugin on the runtimepath, the built-in config only. Writes what it sees
-- to $CODELLAMA_TEST_OUT and quits.
local root = vim.fs.dirname(vim.fs.dirname(vim.fs.dirname(vim.fs.normalize(debug.getinfo(1, "S").source:sub(2)))))
vim.opt.runtimepath:prepend(vim.fs.joinpath(root, "editors", "nvim"))
vim.cmd.runtime("plugin/codellama.lua")

local config = vim.lsp.config.codellama
local status = require("codellama.status")
local seen = {
  cmd = config.cmd,
  init_options = config.init_options,
  settings = config.settings,
  commands = vim.tbl_keys(vim.api.nvim_get_commands({})),
  status = require("codellama").status(),
  health_defaults = require("codellama.health").defaults,
  keys = require("codellama.config").defaults.keys,
  key_actions = require("codellama.config").KEY_ACTIONS,
  handles_status = config.handlers[status.NOTIFICATION] == status.handler,
  texts = vim.tbl_map(status.text, {
    false,
    { state = "idle", busy = 0 },
    { state = "loading", percentage = 42, busy = 0 },
    { state = "ready", busy = 0 },
    { state = "ready", busy = 1 },
    { state = "ready", busy = 3 },
    { state = "error", message = "no config.json", busy = 0 },
  }),
  error_lines = require("codellama.commands").status_lines({ id = 1, config = { cmd = { "codellama-lsp" } } }, nil, {
    state = "error",
    model = "TheBloke/x",
    revision = "main",
    device = vim.NIL,
    message = "no config.json in TheBloke/x",
    percentage = vim.NIL,
    busy = 0,
  }),
}
vim.fn.writefile({ vim.json.encode(seen) }, vim.env.CODELLAMA_TEST_OUT)
vim.cmd("qall!")
