-- The commands work with `setup()` or with a plain `vim.lsp.enable("codellama")`; the status line
-- too, as `lsp/codellama.lua` registers the status notification's handler.
if vim.g.loaded_codellama or vim.fn.has("nvim-0.11") == 0 then
  return
end
vim.g.loaded_codellama = true

require("codellama.commands").create()
