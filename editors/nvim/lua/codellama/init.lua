--- codellama: a local Code Llama in Neovim through the codellama-lsp language server.
local M = {}

local config = require("codellama.config")

--- The options of the last `setup()` (resolved), or nil before it.
M.options = nil

--- Configures and enables the `codellama` language server. Calling it again updates the options
--- (settings merge, as with `vim.lsp.config()`); a running server keeps its settings until it restarts.
---@param opts table|nil see `:help codellama-setup`
function M.setup(opts)
  if vim.fn.has("nvim-0.11") == 0 then
    vim.notify("codellama needs Neovim 0.11 or newer", vim.log.levels.ERROR)
    return
  end
  local resolved = config.resolve(opts)
  M.options = resolved
  vim.lsp.config("codellama", config.lsp_config(resolved))

  local group = vim.api.nvim_create_augroup("codellama.attach", { clear = true })
  vim.api.nvim_create_autocmd("LspAttach", {
    group = group,
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if client and client.name == "codellama" then
        require("codellama.inline").attach(client, ev.buf, M.options)
      end
    end,
  })
  require("codellama.commands").create()
  vim.lsp.enable("codellama")
end

--- A statusline component from the server's status notification: "" when no server runs, else
--- "Code Llama: starting", "Code Llama: loading model 42%", "Code Llama: ready",
--- "Code Llama: generating" (with a count when more than one) or "Code Llama: error", then the
--- engine unless it is in-process: "Code Llama: ready (shared, cuda:0)".
---@return string
function M.status()
  return require("codellama.status").line()
end

--- Rewrites whole lines `line1..line2` (or the function at the cursor) as instructed.
---@param instruction string
---@param line1? integer
---@param line2? integer
function M.ask(instruction, line1, line2)
  vim.validate("instruction", instruction, "string")
  require("codellama.commands").ask(instruction, line1, line2)
end

--- Explains whole lines `line1..line2` (or the function at the cursor) in a floating window.
---@param line1? integer
---@param line2? integer
function M.explain(line1, line2)
  require("codellama.commands").explain(line1, line2)
end

return M
