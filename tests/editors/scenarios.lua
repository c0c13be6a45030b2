-- Drives Neovim like a person would (keys, commands) against the real server and writes what
-- it saw to $CODELLAMA_TEST_OUT as JSON; then quits. Each scenario records its own error.
local api = vim.api
local results = { nvim_pid = vim.fn.getpid(), statuses = {}, notified = {}, errors = vim.empty_dict() }
local SOURCE = { "import math", "", "", "def add(a, b):", "    ", "", "", "def area(r):", "    return math.pi * r * r" }

local function sleep(ms)
  local co = coroutine.running()
  vim.defer_fn(function()
    assert(coroutine.resume(co))
  end, ms)
  coroutine.yield()
end

local function wait_until(what, predicate, timeout_ms)
  local waited = 0
  while not predicate() do
    if waited > (timeout_ms or 30000) then
      error("timed out waiting for " .. what)
    end
    sleep(50)
    waited = waited + 50
  end
end

local function keys(text)
  api.nvim_feedkeys(api.nvim_replace_termcodes(text, true, false, true), "mt", false)
end

local function lines(bufnr)
  return api.nvim_buf_get_lines(bufnr or 0, 0, -1, false)
end

--- Opens a new file with `content` and waits until the server is attached to it.
local function open(name, content)
  local path = vim.fs.joinpath(vim.env.CODELLAMA_TEST_DIR, name)
  vim.fn.writefile(content, path)
  vim.cmd.edit(vim.fn.fnameescape(path))
  local bufnr = api.nvim_get_current_buf()
  wait_until("the server to attach to " .. name, function()
    return #vim.lsp.get_clients({ bufnr = bufnr, name = "codellama" }) > 0
  end)
  return bufnr
end

-- Every status the server sends, and the statusline text it gives.
api.nvim_create_autocmd("User", {
  pattern = "CodellamaStatus",
  callback = function(ev)
    table.insert(results.notified, ev.data.status)
    table.insert(results.statuses, require("codellama").status())
  end,
})

-- Spy on the edits Neovim applies, to see the document versions the server put in them.
local edits = {}
local apply_workspace_edit = vim.lsp.util.apply_workspace_edit
vim.lsp.util.apply_workspace_edit = function(edit, encoding)
  for _, change in ipairs(edit.documentChanges or {}) do
    local bufnr = vim.uri_to_bufnr(change.textDocument.uri)
    table.insert(edits, { version = change.textDocument.version, buffer_version = vim.lsp.util.buf_versions[bufnr] })
  end
  return apply_workspace_edit(edit, encoding)
end

--- The ghost text shown in the buffer (without the "(2/3)" hint), nil when none.
local function ghost_text(bufnr)
  local ns = api.nvim_get_namespaces()["nvim.lsp.inline_completion"]
  local marks = ns and api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true }) or {}
  if #marks == 0 then
    return nil
  end
  local parts = {}
  for _, chunk in ipairs(marks[1][4].virt_text or {}) do
    if chunk[2] == "ComplHint" then
      table.insert(parts, chunk[1])
    end
  end
  return table.concat(parts)
end

--- How many inline requests the server has received (its `codellama.status` answer).
local function server_requests()
  local client = vim.lsp.get_clients({ name = "codellama" })[1]
  local reply = client:request_sync("workspace/executeCommand", { command = "codellama.status", arguments = {} }, 5000)
  return reply.result.inline.requests
end

--- A new buffer with an empty function body, in insert mode in it, once the suggestion shows.
local function suggested(name)
  local bufnr = open(name, { "def add(a, b):", "    ", "" })
  api.nvim_win_set_cursor(0, { 2, 4 })
  keys("A")
  wait_until("ghost text in " .. name, function()
    return ghost_text(bufnr) == results.ghost_text
  end)
  return bufnr
end

local scenarios = {}

function scenarios.inline()
  local bufnr = open("add.py", { "def add(a, b):", "    ", "" })
  wait_until("the model to load", function()
    return require("codellama").status() == "Code Llama: ready"
  end)
  results.server_pids = api.nvim_get_proc_children(vim.fn.getpid())
  results.position_encoding = vim.lsp.get_clients({ name = "codellama" })[1].offset_encoding
  api.nvim_win_set_cursor(0, { 2, 4 })
  keys("A")
  local marks = {}
  local function ghost_text_shows()
    local ns = api.nvim_get_namespaces()["nvim.lsp.inline_completion"]
    marks = ns and api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true }) or {}
    return #marks > 0
  end
  wait_until("ghost text", ghost_text_shows)
  keys("<C-]>")
  wait_until("the dismissed ghost text to go", function()
    return not ghost_text_shows()
  end)
  results.lines_after_dismiss = lines(bufnr)
  keys("<Esc>A") -- entering insert mode again asks again
  wait_until("ghost text again", ghost_text_shows)
  local ghost = {}
  for _, chunk in ipairs(marks[1][4].virt_text or {}) do
    table.insert(ghost, chunk[1])
  end
  results.ghost_text = table.concat(ghost)
  results.lines_with_ghost_text = lines(bufnr)
  keys("<Tab>")
  wait_until("the suggestion to be inserted", function()
    return lines(bufnr)[2] ~= "    "
  end, 10000)
  keys("<Esc>")
  results.inline_lines = lines(bufnr)
  sleep(400) -- let the editor's debounced follow-up request settle before another buffer shows
end

function scenarios.accept_word()
  local bufnr = suggested("word.py")
  keys("<M-Right>")
  wait_until("the rest of the suggestion after the word", function()
    return ghost_text(bufnr) == " a + b"
  end, 10000)
  results.word_lines, results.ghost_after_word = lines(bufnr), ghost_text(bufnr)
  keys("<M-Right>")
  wait_until("the rest after the next word", function()
    return ghost_text(bufnr) == " + b"
  end, 10000)
  results.ghost_after_two_words = ghost_text(bufnr)
  keys("<Esc>")
  sleep(400)
end

function scenarios.accept_line()
  local bufnr = suggested("line.py")
  keys("<M-Down>")
  wait_until("the line", function()
    return lines(bufnr)[2] ~= "    "
  end, 10000)
  results.line_lines = lines(bufnr)
  keys("<Esc>")
  sleep(400)
end

function scenarios.typing()
  local bufnr = suggested("typed.py")
  local before = server_requests()
  for _, key in ipairs({ "r", "e", "t" }) do
    keys(key)
    sleep(400) -- longer than the debounce: a request would go now
  end
  wait_until("the rest of the suggestion", function()
    return ghost_text(bufnr) == "urn a + b"
  end, 10000)
  results.typed_lines, results.typed_ghost = lines(bufnr), ghost_text(bufnr)
  results.requests_while_typing = server_requests() - before
  keys("x") -- diverged: the server is asked again
  wait_until("a request after diverging", function()
    return server_requests() > before
  end, 10000)
  keys("<Esc>")
  sleep(400)
end

function scenarios.debounce()
  local bufnr = open("wait.py", { "x = 1", "" })
  local client = vim.lsp.get_clients({ name = "codellama" })[1]
  local requests, config = require("codellama.requests"), require("codellama.config")
  requests.attach(client, 60000) -- each request now waits a minute after the last keystroke
  api.nvim_win_set_cursor(0, { 2, 0 })
  local before = server_requests()
  keys("A")
  for _, key in ipairs({ "y", " ", "=" }) do
    keys(key)
    sleep(400) -- Neovim asks after 200 ms; the request waits, then the next key replaces it
  end
  results.requests_during_wait = server_requests() - before
  requests.attach(client, 0)
  keys(" ")
  wait_until("the request once nothing waits", function()
    return server_requests() > before
  end, 10000)
  sleep(600)
  results.requests_after_wait = server_requests() - before
  results.wait_lines = lines(bufnr)
  keys("<Esc>")
  requests.attach(client, config.debounce_ms(require("codellama").options))
  sleep(400)
end

function scenarios.cycle()
  local bufnr = suggested("cycle.py")
  keys("<M-]>")
  wait_until("the next candidate", function()
    return ghost_text(bufnr) ~= results.ghost_text
  end, 10000)
  results.cycled = ghost_text(bufnr)
  keys("<M-[>")
  wait_until("the first candidate again", function()
    return ghost_text(bufnr) == results.ghost_text
  end, 10000)
  results.cycled_back = ghost_text(bufnr)
  keys("<Tab>")
  wait_until("the candidate inserted", function()
    return lines(bufnr)[2] ~= "    "
  end, 10000)
  results.cycle_lines = lines(bufnr)
  keys("<Esc>")
  sleep(400)
end

function scenarios.tab_without_suggestion()
  local bufnr = open("plain.py", { "x = 1" })
  vim.bo[bufnr].expandtab, vim.bo[bufnr].softtabstop = false, 0
  keys("A<Tab><Esc>") -- at once: no suggestion can be showing yet
  wait_until("the Tab", function()
    return lines(bufnr)[1] ~= "x = 1"
  end, 5000)
  results.plain_tab_lines = lines(bufnr)
  sleep(400)
end

function scenarios.code_action()
  local bufnr = open("area.py", SOURCE)
  -- Two edits that cancel out: the document's version moves on, its text stays.
  api.nvim_buf_set_lines(bufnr, 0, 1, true, { "import math  " })
  api.nvim_buf_set_lines(bufnr, 0, 1, true, { "import math" })
  api.nvim_win_set_cursor(0, { 9, 8 })
  local before = #edits
  vim.lsp.buf.code_action({
    apply = true,
    filter = function(action)
      return action.title == "Code Llama: Refactor / simplify"
    end,
  })
  wait_until("the code action's edit", function()
    return #edits > before and lines(bufnr)[8] ~= "def area(r):"
  end)
  results.code_action_edit = edits[#edits]
  results.code_action_lines = lines(bufnr)
end

function scenarios.ask()
  local bufnr = open("ask.py", SOURCE)
  vim.cmd("4,5CodellamaAsk implement it")
  wait_until("the ask edit", function()
    return lines(bufnr)[4] ~= "def add(a, b):"
  end)
  results.ask_edit = edits[#edits]
  results.ask_lines = lines(bufnr)
end

function scenarios.explain()
  open("explain.py", SOURCE)
  vim.cmd("8,9CodellamaExplain")
  local float
  wait_until("the explanation window", function()
    for _, win in ipairs(api.nvim_list_wins()) do
      if api.nvim_win_get_config(win).relative ~= "" then
        float = win
      end
    end
    return float ~= nil
  end)
  results.explain_lines = lines(api.nvim_win_get_buf(float))
  api.nvim_win_close(float, true)
end

function scenarios.status()
  results.status = require("codellama").status()
  local messages = {}
  local notify = vim.notify
  vim.notify = function(message)
    table.insert(messages, message)
  end
  local ok, err = pcall(function()
    vim.cmd("CodellamaStatus")
    results.status_messages_on_return = #messages -- the answer cannot have come yet
    wait_until("the :CodellamaStatus answer", function()
      return #messages > 0
    end, 10000)
  end)
  vim.notify = notify
  assert(ok, err)
  results.status_lines = vim.split(messages[1], "\n", { plain = true })
end

function scenarios.health()
  vim.cmd("checkhealth codellama")
  results.health_lines = lines(0)
end

local function run()
  local names = { "inline", "accept_word", "accept_line", "typing", "debounce", "cycle" }
  vim.list_extend(names, { "tab_without_suggestion", "code_action", "ask", "explain", "status", "health" })
  for _, name in ipairs(names) do
    local ok, err = pcall(scenarios[name])
    if not ok then
      results.errors[name] = tostring(err)
    end
  end
  vim.fn.writefile({ vim.json.encode(results) }, vim.env.CODELLAMA_TEST_OUT)
  vim.cmd("qall!")
end

vim.schedule(function()
  coroutine.wrap(run)()
end)
