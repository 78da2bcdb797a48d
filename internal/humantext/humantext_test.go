package humantext

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"
)

func TestCheck(t *testing.T) {
	cases := []struct {
		name        string
		s           string
		line, block string // the code Check gives for each kind; "" when valid
	}{
		{"empty (an optional text left empty)", "", "", ""},
		{"Arabic", "برنامج الصباح", "", ""},
		{"zero-width non-joiner inside a Persian word", "می\u200cخواهم", "", ""},
		{"right-to-left mark before Arabic", "\u200fعنوان", "", ""},
		{"override inside text", "abc\u202edef", "", ""},
		{"no-break and ideographic spaces between words", "a\u00a0b\u3000c", "", ""},
		{"combining mark, emoji and ZWJ sequence", "e\u0301 🎬 👩\u200d💻", "", ""},
		{"text outside the BMP only", "𝄞", "", ""},
		{"zero-width space", "\u200b", CodeBlank, CodeBlank},
		{"right-to-left override", "\u202e", CodeBlank, CodeBlank},
		{"no-break space", "\u00a0", CodeBlank, CodeBlank},
		{"ideographic space", "\u3000", CodeBlank, CodeBlank},
		{"a mix of spaces and invisible characters", " \u200b\u202e\u00a0\u3000\u2060\ufeff\u00ad\u3164\u2800", CodeBlank, CodeBlank},
		{"spaces", "   ", CodeBlank, CodeBlank},
		{"tab", "\t", CodeInvalidCharacter, CodeBlank},
		{"line breaks only", "\r\n\n", CodeInvalidCharacter, CodeBlank},
		{"two lines", "line 1\r\n\tline 2", CodeInvalidCharacter, ""},
		{"U+0017 after a word", "a\u0017", CodeInvalidCharacter, CodeInvalidCharacter},
		{"U+0017 alone", "\u0017", CodeInvalidCharacter, CodeInvalidCharacter},
		{"NUL", "a\u0000b", CodeInvalidCharacter, CodeInvalidCharacter},
		{"DEL", "a\u007f", CodeInvalidCharacter, CodeInvalidCharacter},
		{"C1 next line", "a\u0085b", CodeInvalidCharacter, CodeInvalidCharacter},
		{"vertical tab in a block", "a\u000bb", CodeInvalidCharacter, CodeInvalidCharacter},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range []struct {
				kind Kind
				want string
			}{{Line, c.line}, {Block, c.block}} {
				got := Check("title", c.s, k.kind)
				switch {
				case k.want == "" && got != nil:
					t.Errorf("kind %d: %q refused: %+v", k.kind, c.s, got)
				case k.want != "" && got == nil:
					t.Errorf("kind %d: %q accepted, want %s", k.kind, c.s, k.want)
				case k.want != "" && (got.Code != k.want || got.Field != "title" || got.Message == ""):
					t.Errorf("kind %d: %q: %+v, want code %s on title", k.kind, c.s, got, k.want)
				}
			}
		})
	}
	if fe := Check("title", "a\u0017", Line); !strings.Contains(fe.Message, "U+0017") {
		t.Errorf("the message does not name the character: %q", fe.Message)
	}
	if fe := Required("title", "", Line); fe == nil || fe.Code != CodeBlank {
		t.Errorf("Required accepted an empty text: %+v", fe)
	}
	if fe := Required("title", "ok", Line); fe != nil {
		t.Errorf("Required refused a text: %+v", fe)
	}
}

func TestCheckTag(t *testing.T) {
	valid := []string{"news", "برامج صباحية", "می\u200cخواهم", "morning-show", "a b c", "\u200fخبر", "🎬"}
	for _, s := range valid {
		if fe := CheckTag("tags.0", s); fe != nil {
			t.Errorf("%q refused: %+v", s, fe)
		}
	}
	invalid := map[string]string{
		"":                   CodeBlank,
		" news":              CodeBlank,
		"news ":              CodeBlank,
		"a  b":               CodeBlank,
		"\u200b":             CodeBlank,
		"a \u200b":           CodeBlank,
		"a,b":                CodeInvalidCharacter,
		"a\u00a0b":           CodeInvalidCharacter,
		"a\u3000b":           CodeInvalidCharacter,
		"a\tb":               CodeInvalidCharacter,
		"a\u000bb":           CodeInvalidCharacter,
		"\u0017":             CodeInvalidCharacter,
		"\u202e\u200b\u2060": CodeBlank,
	}
	for s, code := range invalid {
		if fe := CheckTag("tags.0", s); fe == nil || fe.Code != code || fe.Field != "tags.0" {
			t.Errorf("%q: %+v, want %s", s, fe, code)
		}
	}
}

func TestTrim(t *testing.T) {
	for in, want := range map[string]string{
		"\u200b \u00a0Title\u3000\u200b": "Title",
		"\u200b\u202e":                   "",
		"a \u200c b":                     "a \u200c b",
		"\u0007title\n":                  "title",
	} {
		if got := Trim(in); got != want {
			t.Errorf("Trim(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestContractPatterns holds common.yaml's patterns equal to the ones this package builds from its
// tables: the contract and the services state one rule.
func TestContractPatterns(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "specs", "openapi", "common.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Pattern string `yaml:"pattern"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"HumanText": LinePattern, "HumanTextBlock": BlockPattern, "Tag": TagPattern} {
		if got := doc.Components.Schemas[name].Pattern; got != want {
			t.Errorf("common.yaml %s pattern\n  is   %s\n  want %s", name, got, want)
		}
	}
}

// corpus is every BMP character (but the surrogates, which JSON text cannot carry alone) on its
// own, after a letter, before one, twice and as the second word of a tag, and some texts.
func corpus() []string {
	var out []string
	for r := rune(0); r <= 0xFFFF; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		c := string(r)
		out = append(out, c, "a"+c, c+"a", c+c, "ab "+c)
	}
	return append(out, "", " ", "a b", "a  b", " a", "a ", "برنامج الصباح", "می\u200cخواهم", "\u200b\u202e\u00a0\u3000",
		"x\n", "\n", "a\r\nb", "\t", "🎬", "\U000E0041", "\U0001D173", "a,b", "a\u00a0b", "a\u0017", strings.Repeat(" ", 300)+"a",
		strings.Repeat("\u200b", 100))
}

// expected is what Check and CheckTag say of every text of corpus, per pattern.
func expected(texts []string) map[string][]bool {
	exp := map[string][]bool{}
	for _, s := range texts {
		exp["line"] = append(exp["line"], Check("f", s, Line) == nil)
		exp["block"] = append(exp["block"], Check("f", s, Block) == nil)
		exp["tag"] = append(exp["tag"], CheckTag("f", s) == nil)
	}
	return exp
}

var patterns = map[string]string{"line": LinePattern, "block": BlockPattern, "tag": TagPattern}

// TestPatternsAgreeWithGo checks the patterns as the gateways and services apply them (kin-openapi,
// on Go's regexp) against Check and CheckTag, character by character.
func TestPatternsAgreeWithGo(t *testing.T) {
	texts := corpus()
	exp := expected(texts)
	for name, p := range patterns {
		s := &openapi3.Schema{Type: &openapi3.Types{"string"}, Pattern: p}
		if err := s.Validate(t.Context()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		bad := 0
		for i, text := range texts {
			if got := s.VisitJSON(text) == nil; got != exp[name][i] {
				if bad++; bad <= 5 {
					t.Errorf("%s: kin-openapi says %v for %q, Go %v", name, got, text, exp[name][i])
				}
			}
		}
	}
}

// pythonCheck reads the patterns as Schemathesis does (Python's re, with a closing $ read as \Z:
// plain re would also let a value end in a line feed) and, when Schemathesis's validator is
// installed, with jsonschema_rs.
const pythonCheck = `
import json, re, sys
d = json.load(sys.stdin)
out = {}
for name, p in d["patterns"].items():
    rx = re.compile(p[:-1] + r"\Z")
    out["re " + name] = [bool(rx.search(s)) for s in d["texts"]]
    try:
        import jsonschema_rs
    except ImportError:
        continue
    v = jsonschema_rs.validator_for({"type": "string", "pattern": p})
    out["jsonschema_rs " + name] = [v.is_valid(s) for s in d["texts"]]
json.dump(out, sys.stdout)
`

// javaScriptCheck reads the patterns as Postman, Newman and browsers do (RegExp, with and without
// the u flag).
const javaScriptCheck = `
const d = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = {};
for (const [name, p] of Object.entries(d.patterns)) {
  for (const flags of ["", "u"]) {
    const rx = new RegExp(p, flags);
    out["RegExp/" + flags + " " + name] = d.texts.map(s => rx.test(s));
  }
}
process.stdout.write(JSON.stringify(out));
`

// TestPatternsAgreeElsewhere checks the same patterns in Python (Schemathesis) and JavaScript
// (Postman): the contract means one thing to every client and tool. Without python3 or node the
// part skips, except under CI=true.
func TestPatternsAgreeElsewhere(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	texts := corpus()
	exp := expected(texts)
	in, err := json.Marshal(map[string]any{"patterns": patterns, "texts": texts})
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range []struct{ name, program, flag, script string }{
		{"python", "python3", "-c", pythonCheck},
		{"javascript", "node", "-e", javaScriptCheck},
	} {
		t.Run(tool.name, func(t *testing.T) {
			path, err := exec.LookPath(tool.program)
			if err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatalf("%s is not installed", tool.program)
				}
				t.Skipf("%s is not installed", tool.program)
			}
			cmd := exec.CommandContext(t.Context(), path, tool.flag, tool.script)
			cmd.Stdin = bytes.NewReader(in)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			res, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v\n%s", tool.program, err, stderr.String())
			}
			var got map[string][]bool
			if err := json.Unmarshal(res, &got); err != nil {
				t.Fatal(err)
			}
			for engine, answers := range got {
				name := engine[strings.LastIndexByte(engine, ' ')+1:]
				bad := 0
				for i, a := range answers {
					if a != exp[name][i] {
						if bad++; bad <= 5 {
							t.Errorf("%s says %v for %q, Go %v", engine, a, texts[i], exp[name][i])
						}
					}
				}
				t.Logf("%s: %d texts, %d disagreements", engine, len(answers), bad)
			}
		})
	}
}
