package normalize

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// answerCases are backend answers: fast says whether the one-pass reader
// takes them (else encoding/json does). Either way DecodeAnswer must read
// what encoding/json reads.
var answerCases = []struct {
	name string
	body string
	fast bool
}{
	{"one text", `{"messages":[{"text":"echo: hi"}]}`, true},
	{"no replies", `{"messages":[]}`, true},
	{"text with quick replies", `{"messages":[{"text":"Pick one","quick_replies":[{"title":"Red","payload":"RED"},{"type":"user_email"},{"title":"Blue [https://x.test/b.png]","image_url":"https://x.test/b.png"}]}]}`, true},
	{"empty quick replies", `{"messages":[{"text":"a","quick_replies":[]}]}`, true},
	{"every fast member", ` {"messages":[{"text":"héllo 👋 <b>&amp;","sender_action":"typing_on","messaging_type":"MESSAGE_TAG","tag":"HUMAN_AGENT","otn":true},{"otn":false,"text":""}]} `, true},
	{"two replies", `{"messages":[{"text":"one"},{"text":"two"}]}`, true},
	{"empty object reply", `{"messages":[{}]}`, true},

	{"empty body object", `{}`, false},
	{"messages null", `{"messages":null}`, false},
	{"another top-level key", `{"messages":[{"text":"a"}],"trace":1}`, false},
	{"buttons", `{"messages":[{"text":"a","buttons":[{"type":"url","title":"Go","url":"https://x.test"}]}]}`, false},
	{"channel data", `{"messages":[{"channel_data":{"type":"template"}}]}`, false},
	{"key in other case", `{"messages":[{"Text":"a"}]}`, false},
	{"repeated key", `{"messages":[{"text":"a","text":"b"}]}`, false},
	{"repeated quick reply key", `{"messages":[{"quick_replies":[{"title":"a","title":"b"}]}]}`, false},
	{"escape", `{"messages":[{"text":"line\nbreak \u00e9"}]}`, false},
	{"lone surrogate escape", `{"messages":[{"text":"\ud800"}]}`, false},
	{"text null", `{"messages":[{"text":null}]}`, false},
	{"text a number", `{"messages":[{"text":12}]}`, false},
	{"otn a string", `{"messages":[{"otn":"yes"}]}`, false},
	{"raw control character", "{\"messages\":[{\"text\":\"a\tb\"}]}", false},
	{"invalid UTF-8", "{\"messages\":[{\"text\":\"a\xffb\"}]}", false},
	{"quick replies an object", `{"messages":[{"quick_replies":{"title":"a"}}]}`, false},
	{"quick reply a string", `{"messages":[{"quick_replies":["a"]}]}`, false},
	{"unknown quick reply key", `{"messages":[{"quick_replies":[{"title":"a","content_type":"text"}]}]}`, false},
	{"messages an object", `{"messages":{"text":"a"}}`, false},
	{"not JSON", `{"messages":[{"text":"a"}]`, false},
	{"trailing data", `{"messages":[]} x`, false},
	{"array body", `[{"text":"a"}]`, false},
	{"long answer", `{"messages":[{"text":"` + strings.Repeat("x", maxFastAnswer) + `"}]}`, false},
}

// checkAnswer holds DecodeAnswer to encoding/json's reading of body.
func checkAnswer(t *testing.T, body []byte) {
	t.Helper()
	var want BackendAnswer
	wantErr := json.Unmarshal(body, &want)
	got, err := DecodeAnswer(body)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("DecodeAnswer(%q) error %v, encoding/json %v", body, err, wantErr)
	}
	if wantErr != nil {
		return
	}
	if diff := cmp.Diff(want.Messages, got); diff != "" {
		t.Fatalf("DecodeAnswer(%q) differs from encoding/json (-json +got):\n%s", body, diff)
	}
}

func TestDecodeAnswer(t *testing.T) {
	for _, tc := range answerCases {
		t.Run(tc.name, func(t *testing.T) {
			checkAnswer(t, []byte(tc.body))
			if _, fast := decodeAnswerFast([]byte(tc.body)); fast != tc.fast {
				t.Fatalf("read in one pass: %v, want %v", fast, tc.fast)
			}
		})
	}
}

func FuzzDecodeAnswer(f *testing.F) {
	for _, tc := range answerCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAnswer(t, body)
	})
}

// BenchmarkDecodeAnswer: the echo bot's answer, one pass against
// encoding/json.
func BenchmarkDecodeAnswer(b *testing.B) {
	body := []byte(`{"messages":[{"text":"echo: hello there, how are you today?","quick_replies":[{"title":"Yes"},{"title":"No"}]}]}`)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeAnswer(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var a BackendAnswer
			if err := json.Unmarshal(body, &a); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestDecodeAnswerCopies: the replies never share memory with the body,
// on the one-pass path and through encoding/json alike, so a caller may
// reuse the body's buffer as soon as DecodeAnswer returns (the pipeline
// reads every answer into one pooled buffer).
func TestDecodeAnswerCopies(t *testing.T) {
	fast := 0
	for _, c := range answerCases {
		buf := []byte(c.body)
		msgs, err := DecodeAnswer(buf)
		if err != nil || len(msgs) == 0 {
			continue
		}
		if c.fast {
			fast++
		}
		want, err := json.Marshal(msgs)
		if err != nil {
			t.Fatal(err)
		}
		for i := range buf {
			buf[i] = 'x'
		}
		if got, _ := json.Marshal(msgs); !bytes.Equal(got, want) {
			t.Errorf("%s: replies changed with the body's buffer:\n%s\nwas\n%s", c.name, got, want)
		}
	}
	if fast == 0 || fast == len(answerCases) {
		t.Fatalf("%d of %d cases on the one-pass path: both paths must be checked", fast, len(answerCases))
	}
}
