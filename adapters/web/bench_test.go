package web

import (
	"encoding/json"
	"testing"

	"github.com/switchboard-gw/switchboard/normalize"
)

func BenchmarkParseMessage(b *testing.B) {
	body := []byte(`{"type":"quick_reply","text":"Red","payload":"RED","metadata":{"page":"/cart"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMessage(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvent(b *testing.B) {
	a := testAdapter()
	m, _ := ParseMessage([]byte(`{"text":"hello","metadata":{"page":"/cart"}}`))
	md := json.RawMessage(`{"plan":"pro"}`)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		ev := a.Event(&m, "wv_visitor", 42, "wm_conv_42", md, testNow)
		buf = ev.AppendJSON(buf[:0])
	}
}

func BenchmarkRender(b *testing.B) {
	r := normalize.Reply{Text: "Pick one", QuickReplies: []normalize.QuickReply{{Title: "Red"}, {Title: "Blue"}},
		Buttons: []normalize.Button{{Title: "Site", Payload: "https://example.com"}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Render(&r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckHash(b *testing.B) {
	v := testVerifier()
	h := UserHash([]byte(testSecret), "cust_88413")
	b.ReportAllocs()
	for b.Loop() {
		if err := v.CheckHash("cust_88413", h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckJWT(b *testing.B) {
	v := testVerifier()
	tok := sign(b, keyNew, "k2026", goodClaims())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.CheckJWT(tok); err != nil {
			b.Fatal(err)
		}
	}
}
