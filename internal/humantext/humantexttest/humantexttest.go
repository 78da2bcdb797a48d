// Package humantexttest holds the texts every service's tests send to its human-text fields
// (internal/humantext), so that each service is held to the same cases.
package humantexttest

// Blank are non-empty texts with nothing visible: zero-width space, right-to-left override,
// no-break space, ideographic space and a mix of those with other invisible characters. Every
// human-text field refuses them with 422 and the code "blank".
var Blank = []string{"\u200b", "\u202e", "\u00a0", "\u3000", " \u200b\u202e\u00a0\u3000\ufeff\u2060"}

// Control are texts with a control character that no kind of text allows (U+0017, BEL, the C1
// NEXT LINE, NUL): refused with 422 and the code "invalid_character".
var Control = []string{"a\u0017", "\u0017", "bell\u0007", "next\u0085line", "nul\u0000"}

// Valid are one-line texts with invisible characters inside visible text: a zero-width non-joiner
// inside a Persian word, a right-to-left mark before Arabic, no-break and ideographic spaces
// between words, a combining mark and an emoji ZWJ sequence, an override inside text. Every
// human-text field accepts them and keeps them as sent.
var Valid = []string{"می\u200cخواهم", "\u200fبرنامج الصباح", "a\u00a0b\u3000c", "e\u0301 👩\u200d💻", "abc\u202edef"}

// Multiline is valid multi-line text: fine in a summary or description, refused in a title.
const Multiline = "line 1\r\n\tline 2"
