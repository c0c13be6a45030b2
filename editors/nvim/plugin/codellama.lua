-- Commands and the status line work with `setup()` or with a plain `vim.lsp.enable("codellama")`.
if vim.g.loaded_codellama or vim.fn.has("nvim-0.11") == 0 then
  return
end
vim.g.loaded_codellama = true

require("codellama.commands").create()
require("codellama.progress").listen()
