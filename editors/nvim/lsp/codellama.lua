-- The codellama language server for `vim.lsp.config` / `vim.lsp.enable("codellama")`.
-- `require("codellama").setup()` extends this with your options.
local config = require("codellama.config")

return config.lsp_config(config.resolve())
