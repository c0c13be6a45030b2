--- `:CodellamaAsk`, `:CodellamaExplain`, `:CodellamaStatus`: thin wrappers around the
--- server's `workspace/executeCommand` commands.
local M = {}

local status = require("codellama.status")

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

local function mib(bytes)
  return type(bytes) == "number" and ("%d MiB"):format(math.floor(bytes / 1048576 + 0.5)) or "?"
end

--- The engine's and the process's figures from the server's `codellama.status` answer.
---@param answer table
---@return string[]
local function figures(answer)
  local lines = {}
  local e = answer.engine
  if type(e) == "table" then
    local _, connection = status.connection(e)
    if connection then -- a shared or URL engine
      table.insert(lines, connection)
    end
    if type(e.running) == "number" then -- the figures a URL engine may not have
      table.insert(lines, ("engine: %d running, %d waiting"):format(e.running, e.waiting))
    end
    if type(e.kvBlocks) == "number" then
      local reused = e.promptTokens > 0 and math.floor(100 * e.reusedTokens / e.promptTokens + 0.5) or 0
      local kv = "KV cache: %d of %d blocks in use, %d cached; prefix cache reused %d%% of prompt tokens"
      table.insert(lines, kv:format(e.kvBlocksUsed, e.kvBlocks, e.kvBlocksCached, reused))
    end
  end
  local g = answer.inline
  if type(g) == "table" and type(g.requests) == "number" then
    local line = "ghost text: %d requests, %d answered by the model, %d from the rest of a suggestion"
    table.insert(lines, line:format(g.requests, g.modelRuns, g.fromRemainder))
  end
  local p = answer.process
  if type(p) == "table" then
    table.insert(lines, ("server process: %s tasks, %s resident"):format(p.tasks or "?", mib(p.rssBytes)))
  end
  return lines
end

--- Lines for `:CodellamaStatus`: the server's state, model and device, and the figures of its
--- `codellama.status` answer (the last notification's status when there is no answer).
---@param client vim.lsp.Client
---@param notified codellama.Status|nil the last status the server sent
---@param answer table|nil the server's `codellama.status` answer
---@return string[]
function M.status_lines(client, notified, answer)
  local s = type(answer) == "table" and answer or notified
  local cmd = type(client.config.cmd) == "table" and table.concat(client.config.cmd, " ") or "(a function)"
  local lines = { status.text(s), ("client %d, server %s"):format(client.id, cmd) }
  if not s then
    return lines
  end
  local device = type(s.device) == "string" and (" on " .. s.device) or ""
  table.insert(lines, ("model: %s (%s)%s"):format(tostring(s.model), tostring(s.revision), device))
  if type(s.message) == "string" and s.message ~= "" then
    table.insert(lines, (s.state == "error" and "error: " or "loading: ") .. s.message)
  end
  return vim.list_extend(lines, s == answer and figures(answer) or {})
end

--- Shows `:CodellamaStatus`'s lines once the server answers; the editor does not wait.
function M.show_status()
  local notified, client = status.current()
  if not client then
    vim.notify("Code Llama: no server running (is a buffer of a configured filetype open?)", vim.log.levels.WARN)
    return
  end
  local function show(answer, err)
    local lines = M.status_lines(client, notified, answer)
    if err then
      table.insert(lines, "the server did not answer codellama.status: " .. (err.message or vim.inspect(err)))
    end
    vim.notify(table.concat(lines, "\n"), vim.log.levels.INFO)
  end
  local params = { command = "codellama.status", arguments = {} }
  local sent = client:request("workspace/executeCommand", params, function(err, answer)
    show(answer, err)
  end)
  if not sent then
    show(nil, { message = "the server is not running" })
  end
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
  vim.api.nvim_create_user_command("CodellamaStatus", M.show_status, { desc = "Code Llama: the server's state" })
end

return M
