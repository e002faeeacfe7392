-- Pandoc Lua filter of the offline renderer: gives plain pandoc the pieces of Quarto
-- syntax the report uses, so that both engines show the same report.
--   * fig-alt="..." on an image becomes its alt text (Quarto's figure alt text);
--   * ::: {.callout-warning} / {.callout-note} divs become framed boxes;
--   * ::: {.landscape} puts its content on sideways pages in the PDF;
--   * cross-references: tables captioned ": caption {#tbl-x}", figures
--     "![caption](file){#fig-x}" and divs with such an id (whose last paragraph is the
--     caption) are numbered in document order, their captions start "Table N:" or
--     "Figure N:", and @tbl-x / @fig-x become links reading "Table N" / "Figure N" (an
--     unknown label prints as ?@label, as Quarto prints it, with a warning);
--   * HTML: every table in a box that scrolls sideways, its caption above it;
--   * PDF: table column widths from their content (header words never break), a smaller
--     font when needed, sideways pages for tables too wide for the portrait page, and
--     each caption kept on the page of the table's first rows.

local KINDS = { tbl = "Table", fig = "Figure" }
local is_typst = FORMAT:match("typst") ~= nil
local numbers = {} -- label -> "Table 3"

-- Table font sizes tried in turn (pt), the average width of a character (em), and the
-- horizontal padding of a cell (pt, the inset set in typst_setup below).
local SIZES = { 8.5, 7.5, 7 }
local CHAR_EM = 0.52
local CELL_PAD = 8

local function kind_of(id)
  local kind = id and id:match("^(%a+)%-")
  return KINDS[kind] and kind or nil
end

local function raw(text)
  return pandoc.RawBlock("typst", text)
end

-- Numbering -----------------------------------------------------------------------

local function number_floats(doc)
  local count = { tbl = 0, fig = 0 }
  local function take(id)
    local kind = kind_of(id)
    if kind and not numbers[id] then
      count[kind] = count[kind] + 1
      numbers[id] = KINDS[kind] .. " " .. count[kind]
    end
  end
  doc:walk({
    traverse = "topdown",
    Table = function(t) take(t.identifier) end,
    Figure = function(f) take(f.identifier) end,
    Div = function(d) take(d.identifier) end,
  })
end

local function numbered(id, inlines)
  local caption = pandoc.Inlines({})
  if numbers[id] then
    caption:insert(pandoc.Strong(numbers[id] .. ":"))
    caption:insert(pandoc.Space())
  end
  caption:extend(inlines)
  return caption
end

local function resolve(cite)
  for _, c in ipairs(cite.citations) do
    if not kind_of(c.id) then return nil end -- a real citation, left to citeproc
  end
  local out = pandoc.Inlines({})
  for i, c in ipairs(cite.citations) do
    if i > 1 then out:extend({ pandoc.Str(","), pandoc.Space() }) end
    if #c.prefix > 0 then out:extend(c.prefix); out:insert(pandoc.Space()) end
    if numbers[c.id] then
      out:insert(pandoc.Link(numbers[c.id], "#" .. c.id))
    else
      io.stderr:write("offline.lua: unresolved cross-reference @" .. c.id .. "\n")
      out:insert(pandoc.Strong("?@" .. c.id))
    end
    out:extend(c.suffix)
  end
  return out
end

local function fig_alt(img)
  local alt = img.attributes["fig-alt"]
  if alt then
    img.attributes["fig-alt"] = nil
    img.attributes["alt"] = alt
  end
  return img
end

-- Typst table layout --------------------------------------------------------------

local function text_len(s)
  return utf8.len(s) or #s
end

local function longest_word(s)
  local longest = 0
  for word in s:gmatch("%S+") do longest = math.max(longest, text_len(word)) end
  return longest
end

-- Per column, in characters: the narrowest width that breaks no word of the header or
-- the body (nor any number), a comfortable width, and the width of the longest line.
local function column_needs(tbl)
  local n = #tbl.colspecs
  local header, least, longest = {}, {}, {}
  for j = 1, n do header[j], least[j], longest[j] = "", 1, 0 end
  for _, row in ipairs(tbl.head.rows) do
    for j, cell in ipairs(row.cells) do
      if j <= n then header[j] = header[j] .. " " .. pandoc.utils.stringify(cell.contents) end
    end
  end
  for _, body in ipairs(tbl.bodies) do
    for _, row in ipairs(body.body) do
      for j, cell in ipairs(row.cells) do
        if j <= n then
          local s = pandoc.utils.stringify(cell.contents)
          local whole = tbl.colspecs[j][1] == "AlignRight"
          longest[j] = math.max(longest[j], text_len(s))
          least[j] = math.max(least[j], whole and text_len(s) or longest_word(s))
        end
      end
    end
  end
  local comfortable, natural = {}, {}
  for j = 1, n do
    local h = header[j]
    least[j] = math.max(least[j], longest_word(h))
    comfortable[j] = math.max(least[j], math.min(longest[j], 40), math.ceil(text_len(h) / 3))
    natural[j] = math.max(longest[j], text_len(h))
  end
  return least, comfortable, natural
end

local function sum(list)
  local total = 0
  for _, v in ipairs(list) do total = total + v end
  return total
end

-- The font size and column widths (fractions of the text width; nil: natural widths)
-- of a table on a text block `width` points wide, or nil when it does not fit.
local function plan_table(tbl, width)
  local least, comfortable, natural = column_needs(tbl)
  local n = #least
  for _, size in ipairs(SIZES) do
    local char = CHAR_EM * size
    local room = (width - CELL_PAD * n) / char
    if sum(natural) <= room then return size, nil end
    if sum(least) <= room then
      local extra, spread = room - sum(least), sum(comfortable) - sum(least)
      local widths = {}
      for j = 1, n do
        local w = least[j]
        if spread > 0 then w = w + math.min(extra, spread) * (comfortable[j] - least[j]) / spread end
        if extra > spread then w = w + (extra - spread) * comfortable[j] / sum(comfortable) end
        widths[j] = (w * char + CELL_PAD) / width
      end
      return size, widths
    end
  end
  return nil
end

local function caption_block(id, inlines)
  local label = numbers[id] and (" <" .. id .. ">") or ""
  return {
    raw("#block(sticky: true, width: 100%, below: 0.6em)[\n#set text(size: 0.9em)\n#set par(justify: false)"),
    pandoc.Plain(numbered(id, inlines)),
    raw("]" .. label),
  }
end

local function typst_table(tbl, widths_pt)
  local id, caption = tbl.identifier, pandoc.utils.blocks_to_inlines(tbl.caption.long)
  tbl.identifier, tbl.caption = "", { long = pandoc.Blocks({}) }
  local size, widths = plan_table(tbl, widths_pt.portrait)
  local sideways = false
  if not size and not widths_pt.inside_landscape then
    size, widths = plan_table(tbl, widths_pt.landscape)
    sideways = true
  end
  if not size then
    io.stderr:write("offline.lua: a table is too wide for the page even at " .. SIZES[#SIZES] .. " pt\n")
    size = SIZES[#SIZES]
  end
  if widths then
    for j, spec in ipairs(tbl.colspecs) do tbl.colspecs[j] = { spec[1], widths[j] } end
  end
  local blocks = {}
  if sideways then table.insert(blocks, raw("#page(flipped: true)[")) end
  if #caption > 0 or numbers[id] then
    for _, b in ipairs(caption_block(id, caption)) do table.insert(blocks, b) end
  end
  table.insert(blocks, raw("#[\n#set text(size: " .. size .. "pt)"))
  table.insert(blocks, tbl)
  table.insert(blocks, raw("]"))
  if sideways then table.insert(blocks, raw("]")) end
  return blocks
end

-- Text cells get a minimum width by their length (classes in offline.css), so that a
-- wide table scrolls sideways instead of squeezing its text into tall rows.
local function mark_text_cells(tbl)
  for _, body in ipairs(tbl.bodies) do
    for _, row in ipairs(body.body) do
      for j, cell in ipairs(row.cells) do
        local n = text_len(pandoc.utils.stringify(cell.contents))
        if tbl.colspecs[j] and tbl.colspecs[j][1] ~= "AlignRight" and n > 12 then
          cell.attr.classes:insert(n > 40 and "long-text" or "mid-text")
        end
      end
    end
  end
end

local function html_table(tbl)
  mark_text_cells(tbl)
  local id, caption = tbl.identifier, pandoc.utils.blocks_to_inlines(tbl.caption.long)
  tbl.identifier, tbl.caption = "", { long = pandoc.Blocks({}) }
  local content = {}
  if #caption > 0 or numbers[id] then
    table.insert(content, pandoc.Div(pandoc.Plain(numbered(id, caption)), { class = "float-caption" }))
  end
  table.insert(content, pandoc.Div(tbl, { class = "table-wrap" }))
  return pandoc.Div(content, pandoc.Attr(id, { "float", "float-tbl" }))
end

-- Divs --------------------------------------------------------------------------

local function has_class(div, name)
  for _, class in ipairs(div.classes) do
    if class == name then return true end
  end
  return false
end

local function callout_kind(div)
  for _, class in ipairs(div.classes) do
    local kind = class:match("^callout%-(%a+)$")
    if kind then return kind end
  end
end

local function callout(div, kind)
  if is_typst then
    local fill = kind == "warning" and "rgb(\"#fff4e5\")" or "rgb(\"#e8f1fb\")"
    local stroke = kind == "warning" and "rgb(\"#e8a33d\")" or "rgb(\"#3d7be8\")"
    local blocks = { raw("#block(width: 100%, inset: 10pt, radius: 4pt, fill: " .. fill
      .. ", stroke: (left: 3pt + " .. stroke .. "))[") }
    for _, b in ipairs(div.content) do table.insert(blocks, b) end
    table.insert(blocks, raw("]"))
    return blocks
  end
  div.classes:insert("callout")
  return div
end

-- A div labelled #tbl-x or #fig-x: its last paragraph is the caption, shown on top.
local function labelled_div(div)
  local content = pandoc.List(div.content)
  local last = content[#content]
  local caption = pandoc.Inlines({})
  if last and last.t == "Para" then
    caption = last.content
    content:remove(#content)
  end
  if is_typst then
    local blocks = caption_block(div.identifier, caption)
    blocks[#blocks + 1] = pandoc.Div(content)
    return blocks
  end
  content:insert(1, pandoc.Div(pandoc.Plain(numbered(div.identifier, caption)), { class = "float-caption" }))
  return pandoc.Div(content, pandoc.Attr(div.identifier, { "float", "float-" .. kind_of(div.identifier) }))
end

local function float_filter(widths_pt)
  local filter = { traverse = "topdown" }
  filter.Table = function(tbl)
    if is_typst then return typst_table(tbl, widths_pt), false end
    return html_table(tbl), false
  end
  filter.Figure = function(fig)
    if numbers[fig.identifier] and #fig.caption.long > 0 then
      local inlines = pandoc.utils.blocks_to_inlines(fig.caption.long)
      fig.caption = { long = pandoc.Blocks({ pandoc.Plain(numbered(fig.identifier, inlines)) }) }
    end
    return fig, false
  end
  filter.Div = function(div)
    if has_class(div, "landscape") then
      local inside = { portrait = widths_pt.landscape, landscape = widths_pt.landscape, inside_landscape = true }
      local content = pandoc.Blocks(div.content):walk(float_filter(inside))
      if not is_typst then return content, false end
      content:insert(1, raw("#page(flipped: true)["))
      content:insert(raw("]"))
      return content, false
    end
    local kind = callout_kind(div)
    if kind then return callout(div, kind) end
    if kind_of(div.identifier) then return labelled_div(div) end
  end
  return filter
end

-- Document ------------------------------------------------------------------------

local function meta_points(meta, key, default)
  return meta[key] and tonumber(pandoc.utils.stringify(meta[key])) or default
end

-- Images float to the top or bottom of a page (no half-empty page before a tall one);
-- tables break across pages, with compact cells whose words never hyphenate;
-- numbers come from this filter (not typst's counters); code a little smaller so
-- that a sha256 fits.
local function typst_setup()
  return {
    raw("#set figure(numbering: none)"),
    raw("#show figure.where(kind: table): set block(breakable: true)"),
    raw("#show figure.where(kind: image): set figure(placement: auto)"),
    raw("#show figure.caption: set text(size: 0.9em)"),
    raw("#set table(inset: (x: " .. (CELL_PAD / 2) .. "pt, y: 3pt))"),
    raw("#show table: set par(justify: false)"),
    raw("#show table: set text(hyphenate: false)"),
    raw("#show table.cell.where(y: 0): set text(weight: \"bold\")"),
    raw("#show raw: set text(size: 0.72em)"),
  }
end

function Pandoc(doc)
  number_floats(doc)
  doc = doc:walk({ Image = fig_alt, Cite = resolve })
  local widths_pt = {
    portrait = meta_points(doc.meta, "offline-text-width", 453),
    landscape = meta_points(doc.meta, "offline-landscape-width", 700),
  }
  doc.blocks = doc.blocks:walk(float_filter(widths_pt))
  if is_typst then
    local blocks = pandoc.Blocks(typst_setup())
    blocks:extend(doc.blocks)
    doc.blocks = blocks
  end
  return doc
end
