-- luacheck for the Neovim plugin and its tests (tests/editors/test_lua_lint.py runs it).
std = "luajit"
globals = { "vim" } -- plugins set fields on it (vim.g, vim.opt, vim.notify in tests)
max_line_length = 120
