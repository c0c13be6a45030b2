-- Without setup(): the plugin on the runtimepath, the built-in config only. Writes what it sees
-- to $CODELLAMA_TEST_OUT and quits.
local root = vim.fs.dirname(vim.fs.dirname(vim.fs.dirname(vim.fs.normalize(debug.getinfo(1, "S").source:sub(2)))))
vim.opt.runtimepath:prepend(vim.fs.joinpath(root, "editors", "nvim"))
vim.cmd.runtime("plugin/codellama.lua")

local config = vim.lsp.config.codellama
local seen = {
  cmd = config.cmd,
  init_options = config.init_options,
  settings = config.settings,
  commands = vim.tbl_keys(vim.api.nvim_get_commands({})),
  status = require("codellama").status(),
}
vim.fn.writefile({ vim.json.encode(seen) }, vim.env.CODELLAMA_TEST_OUT)
vim.cmd("qall!")
