-- Sourced after init.lua inside a terminal multiplexer: opens $CODELLAMA_TEST_FILE, waits for
-- the model, then appends to the first blank indented line, so the server's ghost text shows there.
vim.o.termguicolors = true
vim.o.laststatus = 2
vim.o.statusline = " %f%m%=%{v:lua.require'codellama'.status()}  %l:%c "

vim.cmd.edit(vim.fn.fnameescape(vim.env.CODELLAMA_TEST_FILE))

local function wait_ready()
  if require("codellama").status() ~= "Code Llama: ready" then
    vim.defer_fn(wait_ready, 50)
    return
  end
  vim.fn.search([[^\s\+$]], "w")
  vim.api.nvim_feedkeys("A", "nt", false)
end
wait_ready()
