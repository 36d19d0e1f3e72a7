package normalize

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// trickyStrings seed both the table test and the fuzzer.
var trickyStrings = []string{
	"",
	"plain ascii",
	`"`,
	`\`,
	`\"`,
	"/",
	"</script>",
	"<>&",
	"a&amp;b",
	"\x00",
	"\x00\x01\x02\x03\x04\x05\x06\x07\b\t\n\x0b\f\r\x0e\x0f",
	"\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f",
	" \x7f",
	"\u0080\u009f\u00a0",
	"\u2028",
	"\u2029",
	"x\u2028y\u2029z",
	"\u2027\u202a",
	"\ufeff",
	"\ufffd",
	"\uffff",
	"\U0010ffff",
	"😀",
	"Привет, 世界",
	"\xff",
	"\xfe\xff",
	"a\xc3",
	"\xc3(",
	"\xe2\x80",
	"\xe2\x80\xa8\xe2",
	"\xed\xa0\x80",         // UTF-16 surrogate encoded in UTF-8
	"\xed\xbf\xbf",         // low surrogate
	"\xf4\x90\x80\x80",     // above U+10FFFF
	"\xc0\x80",             // overlong NUL
	"\xf0\x9f\x98",         // truncated emoji
	"\xf8\x88\x80\x80\x80", // 5-byte form
	strings.Repeat("long text ", 100),
	strings.Repeat("<\x00\u2028\xff", 50),
}

func TestAppendStringMatchesMarshal(t *testing.T) {
	for _, s := range trickyStrings {
		checkAppendString(t, s)
	}
	// Every single byte value, alone and around text.
	for b := range 256 {
		checkAppendString(t, string([]byte{byte(b)}))
		checkAppendString(t, "a"+string([]byte{byte(b)})+"z")
	}
}

func TestAppendStringEscapes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"abc", `"abc"`},
		{`"\`, `"\"\\"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00\x1f", `"\u0000\u001f"`},
		{"<a href='x'>&</a>", `"\u003ca href='x'\u003e\u0026\u003c/a\u003e"`},
		{"\u2028\u2029", `"\u2028\u2029"`},
		{"a\xffb", `"a\ufffdb"`},
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`},
		{"é😀", `"é😀"`},
		{"\x7f", "\"\x7f\""},
	}
	for _, tt := range tests {
		if got := string(AppendString(nil, tt.in)); got != tt.want {
			t.Errorf("AppendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestAppendStringAppends(t *testing.T) {
	buf := make([]byte, 0, 64)
	buf = append(buf, "x="...)
	out := AppendString(buf, "<y>")
	if string(out) != `x="\u003cy\u003e"` {
		t.Errorf("got %s", out)
	}
	if &out[0] != &buf[0] {
		t.Error("AppendString reallocated a buffer with room to spare")
	}
}

// checkAppendString asserts that AppendString(s) is valid JSON, is byte for
// byte json.Marshal(s), and decodes to what encoding/json decodes.
func checkAppendString(t *testing.T, s string) {
	t.Helper()
	got := AppendString(nil, s)
	if !json.Valid(got) {
		t.Fatalf("AppendString(%q) = %s: not valid JSON", s, got)
	}
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("json.Marshal(%q): %v", s, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendString(%q) = %s, json.Marshal = %s", s, got, want)
	}
	var back string
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("decoding AppendString(%q): %v", s, err)
	}
	if utf8.ValidString(s) && back != s {
		t.Fatalf("AppendString(%q) decodes to %q", s, back)
	}
	if !utf8.ValidString(back) {
		t.Fatalf("AppendString(%q) decodes to invalid UTF-8 %q", s, back)
	}
	// Safe to embed in HTML and in JavaScript source.
	for _, c := range []string{"<", ">", "&", "\u2028", "\u2029"} {
		if bytes.Contains(got, []byte(c)) {
			t.Fatalf("AppendString(%q) = %s contains a raw %q", s, got, c)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkAppendString(t, s)
		// Appending after existing content leaves it alone.
		out := AppendString([]byte("prefix"), s)
		if !bytes.HasPrefix(out, []byte("prefix")) || !bytes.Equal(out[len("prefix"):], AppendString(nil, s)) {
			t.Fatalf("AppendString after a prefix: %q", out)
		}
	})
}

func BenchmarkAppendString(b *testing.B) {
	s := "Hello, I'd like to change my delivery address please. Привет <3"
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = AppendString(buf[:0], s)
	}
}
