-- Pandoc Lua filter for the offline renderer: gives plain pandoc the two pieces of
-- Quarto syntax the report uses, so both engines show the same report.
--   * fig-alt="..." on an image becomes its alt text (Quarto's figure alt text);
--   * ::: {.callout-warning} / {.callout-note} divs become framed boxes.

function Image(img)
  local alt = img.attributes["fig-alt"]
  if alt then
    img.attributes["fig-alt"] = nil
    img.attributes["alt"] = alt
  end
  return img
end

local function callout_kind(div)
  for _, class in ipairs(div.classes) do
    local kind = class:match("^callout%-(%a+)$")
    if kind then return kind end
  end
end

function Div(div)
  local kind = callout_kind(div)
  if not kind then return nil end
  if FORMAT:match("typst") then
    local fill = kind == "warning" and "rgb(\"#fff4e5\")" or "rgb(\"#e8f1fb\")"
    local stroke = kind == "warning" and "rgb(\"#e8a33d\")" or "rgb(\"#3d7be8\")"
    local blocks = { pandoc.RawBlock("typst",
      "#block(width: 100%, inset: 10pt, radius: 4pt, fill: " .. fill .. ", stroke: (left: 3pt + " .. stroke .. "))[") }
    for _, b in ipairs(div.content) do table.insert(blocks, b) end
    table.insert(blocks, pandoc.RawBlock("typst", "]"))
    return blocks
  end
  div.classes:insert("callout")
  return div
end

-- In the PDF, set code (hashes, file names) a little smaller so that a sha256 fits,
-- and let long tables break across pages.
function Pandoc(doc)
  if FORMAT:match("typst") then
    doc.blocks:insert(1, pandoc.RawBlock("typst", "#show raw: set text(size: 0.72em)"))
    doc.blocks:insert(1, pandoc.RawBlock("typst", "#show figure.where(kind: table): set block(breakable: true)"))
  end
  return doc
end
