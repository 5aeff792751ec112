/**
 * How many terminal columns text takes. A column per user-perceived character (grapheme cluster), except
 * East Asian wide and fullwidth characters and emoji, which take two, and marks that combine with the
 * character before them (accents, variation selectors, zero-width joiners), which take none. This is what
 * terminals do (the `wcwidth` rules, per cluster), so columns of CJK names and emoji line up.
 *
 * @since 0.1.0
 */

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" })

/** The grapheme clusters of `text`: `"e\u0301👍🏽x"` is `["e\u0301", "👍🏽", "x"]`. */
export const graphemes = (text: string): Array<string> => Array.from(segmenter.segment(text), (s) => s.segment)

/**
 * East Asian Wide and Fullwidth code points that are not emoji (emoji are found by their Unicode
 * properties), as sorted [first, last] ranges, from Unicode's EastAsianWidth.txt.
 */
const wide: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f], // Hangul Jamo initial consonants
  [0x2e80, 0x303e], // CJK radicals, Kangxi, ideographic description, CJK symbols and punctuation
  [0x3041, 0x33ff], // Hiragana, Katakana, Bopomofo, Hangul compatibility Jamo, Kanbun, CJK strokes, enclosed CJK
  [0x3400, 0x4dbf], // CJK unified ideographs extension A
  [0x4e00, 0x9fff], // CJK unified ideographs
  [0xa000, 0xa4cf], // Yi
  [0xa960, 0xa97f], // Hangul Jamo extended A
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe10, 0xfe19], // vertical forms
  [0xfe30, 0xfe6f], // CJK compatibility forms, small form variants
  [0xff00, 0xff60], // fullwidth forms
  [0xffe0, 0xffe6], // fullwidth signs
  [0x16fe0, 0x16fe4], // ideographic symbols
  [0x17000, 0x18cff], // Tangut, Khitan
  [0x1b000, 0x1b2ff], // Kana supplement and extensions, Nushu
  [0x1f200, 0x1f2ff], // enclosed ideographic supplement
  [0x20000, 0x2fffd], // CJK extensions B to F, compatibility supplement
  [0x30000, 0x3fffd] // CJK extensions G and H
]

const isWide = (code: number): boolean => {
  let low = 0
  let high = wide.length - 1
  while (low <= high) {
    const middle = (low + high) >> 1
    const [first, last] = wide[middle]!
    if (code < first) high = middle - 1
    else if (code > last) low = middle + 1
    else return true
  }
  return false
}

const emojiPresentation = /\p{Emoji_Presentation}/u
const pictographic = /\p{Extended_Pictographic}/u
const regionalIndicator = /\p{Regional_Indicator}/u
// Marks, format characters (zero-width joiner and space, direction marks), variation selectors, controls.
const zeroWidth = /^[\p{M}\p{Cf}\p{Cc}\u{fe00}-\u{fe0f}\u{e0100}-\u{e01ef}]*$/u

/** The columns one grapheme cluster takes: 0, 1 or 2. */
export const graphemeWidth = (grapheme: string): number => {
  const first = grapheme.codePointAt(0)
  if (first === undefined || zeroWidth.test(grapheme)) return 0
  // A flag is a pair of regional indicators; a lone one is shown narrow by most terminals.
  if (regionalIndicator.test(grapheme)) return grapheme.length > 2 ? 2 : 1
  const base = String.fromCodePoint(first)
  if (grapheme.includes("\ufe0e")) return isWide(first) ? 2 : 1
  // A keycap (digit, VS16, combining enclosing keycap) is drawn as an emoji.
  if (grapheme.includes("\u20e3")) return 2
  if (emojiPresentation.test(base)) return 2
  // A text-style pictograph becomes an emoji with VS16, or as part of a ZWJ sequence or with a skin tone.
  if (pictographic.test(base) && grapheme.length > base.length) return 2
  return isWide(first) ? 2 : 1
}

/** The columns `text` takes on a terminal (no escape sequences expected; see `Color.width` for styled text). */
export const width = (text: string): number => {
  // Fast path: printable ASCII is one column a character.
  // oxlint-disable-next-line no-control-regex
  if (/^[\x20-\x7e]*$/.test(text)) return text.length
  let columns = 0
  for (const grapheme of graphemes(text)) columns += graphemeWidth(grapheme)
  return columns
}
