-- A minimal config: the plugin from this repository, set up for the test's server and model.
-- Environment: CODELLAMA_TEST_CMD (JSON list), CODELLAMA_TEST_SETTINGS (JSON object).
local root = vim.fs.dirname(vim.fs.dirname(vim.fs.dirname(vim.fs.normalize(debug.getinfo(1, "S").source:sub(2)))))
vim.opt.runtimepath:prepend(vim.fs.joinpath(root, "editors", "nvim"))
vim.opt.swapfile = false
vim.cmd.runtime("plugin/codellama.lua")

require("codellama").setup({
  cmd = vim.json.decode(vim.env.CODELLAMA_TEST_CMD),
  settings = vim.json.decode(vim.env.CODELLAMA_TEST_SETTINGS),
  filetypes = { "python" },
})
vim.cmd.filetype("on")
