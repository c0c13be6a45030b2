--- `:CodellamaAsk`, `:CodellamaExplain`, `:CodellamaStatus`: thin wrappers around the
--- server's `workspace/executeCommand` commands.
local M = {}

local progress = require("codellama.progress")

local function client_for(bufnr)
  local client = vim.lsp.get_clients({ bufnr = bufnr, name = "codellama" })[1]
  if not client then
    vim.notify("Code Llama: the server is not attached to this buffer", vim.log.levels.WARN)
  end
  return client
end

--- The server's command argument for whole lines line1..line2 (1-based, inclusive);
--- with no range, the cursor (the server then takes the function around it).
---@param bufnr integer
---@param line1 integer|nil
---@param line2 integer|nil
---@param encoding string the client's position encoding
function M.argument(bufnr, line1, line2, encoding)
  local range
  if line1 and line2 then
    range = { start = { line = line1 - 1, character = 0 }, ["end"] = { line = line2, character = 0 } }
  else
    local cursor = vim.lsp.util.make_position_params(0, encoding).position
    range = { start = cursor, ["end"] = cursor }
  end
  return { textDocument = { uri = vim.uri_from_bufnr(bufnr) }, range = range }
end

local function report_error(what, err)
  vim.notify(("Code Llama: %s failed: %s"):format(what, err.message or vim.inspect(err)), vim.log.levels.ERROR)
end

--- Runs a server command on the lines of the current buffer; `on_result` sees a successful answer.
---@param title string
---@param command string
---@param extra table fields added to the command's argument
---@param line1? integer
---@param line2? integer
---@param on_result? fun(result: table|nil)
---@param on_done? fun(err: table|nil, result: table|nil)
local function run(title, command, extra, line1, line2, on_result, on_done)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then
    return
  end
  local argument = vim.tbl_extend("force", M.argument(bufnr, line1, line2, client.offset_encoding), extra)
  local spec = { title = "Code Llama: " .. title, command = command, arguments = { argument } }
  client:exec_cmd(spec, { bufnr = bufnr }, function(err, result)
    if err then
      report_error(title, err)
    elseif on_result then
      on_result(result)
    end
    if on_done then
      on_done(err, result)
    end
  end)
end

--- Rewrites the lines as instructed; the server applies the edit (`workspace/applyEdit`).
---@param instruction string
---@param line1? integer
---@param line2? integer
---@param on_done? fun(err: table|nil, result: table|nil)
function M.ask(instruction, line1, line2, on_done)
  run("Ask", "codellama.ask", { instruction = instruction }, line1, line2, nil, on_done)
end

--- Shows the explanation in a floating window next to the cursor.
---@param text string
---@return integer bufnr, integer winid
function M.show_explanation(text)
  local lines = vim.split(vim.trim(text), "\n", { plain = true })
  return vim.lsp.util.open_floating_preview(lines, "markdown", {
    border = "rounded",
    focus_id = "codellama.explain",
    max_width = math.max(40, math.floor(vim.o.columns * 0.6)),
    title = " Code Llama ",
  })
end

--- Explains the lines (or the function around the cursor) in a floating window.
---@param line1? integer
---@param line2? integer
---@param on_done? fun(err: table|nil, result: table|nil)
function M.explain(line1, line2, on_done)
  run("Explain", "codellama.explain", {}, line1, line2, function(result)
    if result and result.text then
      M.show_explanation(result.text)
    end
  end, on_done)
end

--- Lines for `:CodellamaStatus`.
---@return string[]
function M.status_lines()
  local s, client = progress.current()
  if not s or not client then
    return { "Code Llama: no server running (is a buffer of a configured filetype open?)" }
  end
  local lines = { progress.status(), ("client %d, server %s"):format(client.id, table.concat(client.config.cmd or {}, " ")) }
  if s.message then
    table.insert(lines, "model: " .. s.message)
  end
  for _, title in pairs(s.tasks) do
    table.insert(lines, "running: " .. title)
  end
  vim.list_extend(lines, M.engine_lines(client))
  return lines
end

--- The server's `codellama.status` engine figures, as lines (none if it cannot answer now).
---@param client vim.lsp.Client
---@return string[]
function M.engine_lines(client)
  local reply = client:request_sync("workspace/executeCommand", { command = "codellama.status", arguments = {} }, 2000)
  local status = reply and reply.result
  if type(status) ~= "table" or type(status.engine) ~= "table" then
    return {}
  end
  local e = status.engine
  local reused = e.promptTokens > 0 and math.floor(100 * e.reusedTokens / e.promptTokens + 0.5) or 0
  return {
    ("engine on %s: %d running, %d waiting"):format(status.device or "?", e.running, e.waiting),
    ("KV cache: %d of %d blocks in use, %d cached; prefix cache reused %d%% of prompt tokens"):format(
      e.kvBlocksUsed, e.kvBlocks, e.kvBlocksCached, reused),
  }
end

local function range_of(cmd)
  if cmd.range > 0 then
    return cmd.line1, cmd.line2
  end
end

--- Defines the user commands; safe to call again.
function M.create()
  vim.api.nvim_create_user_command("CodellamaAsk", function(cmd)
    local line1, line2 = range_of(cmd)
    M.ask(cmd.args, line1, line2)
  end, { nargs = "+", range = true, desc = "Code Llama: rewrite the range as instructed" })
  vim.api.nvim_create_user_command("CodellamaExplain", function(cmd)
    local line1, line2 = range_of(cmd)
    M.explain(line1, line2)
  end, { range = true, desc = "Code Llama: explain the range in a floating window" })
  vim.api.nvim_create_user_command("CodellamaStatus", function()
    vim.notify(table.concat(M.status_lines(), "\n"), vim.log.levels.INFO)
  end, { desc = "Code Llama: the server's state" })
end

return M
