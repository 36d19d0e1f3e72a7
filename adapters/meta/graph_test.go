package meta

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/adapters"
)

func graphBody(code, sub int) string {
	s := fmt.Sprintf(`{"error":{"message":"(#%d) test","type":"OAuthException","code":%d`, code, code)
	if sub != 0 {
		s += fmt.Sprintf(`,"error_subcode":%d`, sub)
	}
	return s + `,"fbtrace_id":"AbCd123"}}`
}

// TestClassifyCodes walks every row of channels/meta.md §10.
func TestClassifyCodes(t *testing.T) {
	const (
		transient = adapters.ClassTransient
		limited   = adapters.ClassRateLimited
		recipient = adapters.ClassRecipient
		request   = adapters.ClassRequest
		config    = adapters.ClassConfig
	)
	tests := []struct {
		code, sub int
		class     adapters.Class
		reason    string
		wait      time.Duration // expected RetryAfter without headers
	}{
		// transient
		{1, 0, transient, "server_error", 0},
		{2, 0, transient, "server_error", 0},
		{1200, 0, transient, "temporary_failure", 0},
		{131000, 0, transient, "server_error", 0},
		{131057, 0, transient, "maintenance", 0},
		{131048, 0, transient, "spam_rate_limited", 0},
		{133016, 0, transient, "registration_rate_limited", 0},
		{131053, 0, transient, "media_upload_failed", 0},
		// throttling
		{4, 0, limited, "rate_limited", UsageRetryAfter},
		{17, 0, limited, "rate_limited", UsageRetryAfter},
		{32, 0, limited, "rate_limited", UsageRetryAfter},
		{613, 0, limited, "rate_limited", DefaultRetryAfter},
		{613, 1996, limited, "rate_limited", DefaultRetryAfter},
		{80001, 0, limited, "rate_limited", UsageRetryAfter},
		{80002, 0, limited, "rate_limited", UsageRetryAfter},
		{80006, 0, limited, "rate_limited", UsageRetryAfter},
		{80007, 0, limited, "rate_limited", UsageRetryAfter},
		{80008, 0, limited, "rate_limited", UsageRetryAfter},
		{130429, 0, limited, "rate_limited", DefaultRetryAfter},
		{131056, 0, limited, "pair_rate_limited", PairRetryAfter},
		// per recipient
		{551, 0, recipient, "user_unavailable", 0},
		{551, 1545041, recipient, "user_unavailable", 0},
		{200, 1545041, recipient, "user_unavailable", 0},
		{10, 2018108, recipient, "user_unavailable", 0},
		{10, 2018278, recipient, "outside_window", 0},
		{10, 2534022, recipient, "outside_window", 0},
		{10, 2018065, recipient, "outside_window", 0},
		{100, 2018001, recipient, "no_matching_user", 0},
		{100, 2018109, recipient, "attachment_too_large", 0},
		{131047, 0, recipient, "reengagement_required", 0},
		{131026, 0, recipient, "undeliverable", 0},
		{131049, 0, recipient, "ecosystem_limit", 0},
		{131021, 0, recipient, "recipient_is_sender", 0},
		{131051, 0, recipient, "unsupported_message_type", 0},
		// request bugs
		{100, 0, request, "invalid_request", 0},
		{100, 33, request, "invalid_request", 0},
		{100, 2018320, request, "invalid_request", 0},
		{131008, 0, request, "invalid_request", 0},
		{131009, 0, request, "invalid_request", 0},
		{132000, 0, request, "invalid_request", 0},
		{132001, 0, request, "invalid_request", 0},
		{132012, 0, request, "invalid_request", 0},
		{132016, 0, request, "invalid_request", 0},
		// configuration and auth
		{190, 0, config, "bad_token", 0},
		{190, 463, config, "bad_token", 0},
		{190, 460, config, "bad_token", 0},
		{102, 0, config, "bad_token", 0},
		{10, 0, config, "permission_denied", 0},
		{10, 1234, config, "permission_denied", 0},
		{10, 1893063, config, "page_restricted", 0},
		{200, 0, config, "permission_denied", 0},
		{230, 0, config, "permission_denied", 0},
		{299, 0, config, "permission_denied", 0},
		{3, 0, config, "permission_denied", 0},
		{368, 0, config, "policy_blocked", 0},
		{368, 1390008, config, "policy_blocked", 0},
		{131005, 0, config, "permission_denied", 0},
		{131031, 0, config, "account_locked", 0},
		{131042, 0, config, "payment_required", 0},
		{133010, 0, config, "not_registered", 0},
		{130497, 0, config, "country_restricted", 0},
		// not in the table: the HTTP status decides
		{9999, 0, request, "unknown_error", 0},
	}
	for _, tt := range tests {
		name := fmt.Sprint(tt.code)
		if tt.sub != 0 {
			name += "/" + fmt.Sprint(tt.sub)
		}
		t.Run(name, func(t *testing.T) {
			// The status must not matter for a code in the table.
			for _, status := range []int{400, 403, 500} {
				ae := Classify(status, []byte(graphBody(tt.code, tt.sub)), nil)
				if ae == nil {
					t.Fatalf("status %d: nil error", status)
				}
				if tt.code == 9999 && status == 500 {
					continue // unknown code: 5xx is transient, checked below
				}
				if ae.Class != tt.class || ae.Code != tt.reason {
					t.Errorf("status %d: got %v %q, want %v %q", status, ae.Class, ae.Code, tt.class, tt.reason)
				}
				if ae.ChannelCode != name {
					t.Errorf("ChannelCode = %q, want %q", ae.ChannelCode, name)
				}
				if ae.HTTPStatus != status {
					t.Errorf("HTTPStatus = %d, want %d", ae.HTTPStatus, status)
				}
				if ae.PerRecipient != (tt.code == 131056) {
					t.Errorf("PerRecipient = %v", ae.PerRecipient)
				}
				if ae.RetryAfter != tt.wait {
					t.Errorf("RetryAfter = %v, want %v", ae.RetryAfter, tt.wait)
				}
				if !strings.Contains(ae.Message, "fbtrace_id AbCd123") {
					t.Errorf("Message %q lacks the trace id", ae.Message)
				}
			}
		})
	}
}

func TestClassifyStatus(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		class  adapters.Class
		code   string
	}{
		{"200 empty", 200, ``, 0, ""},
		{"200 success", 200, `{"recipient_id":"1","message_id":"m_1"}`, 0, ""},
		{"200 carrying an error", 200, graphBody(10, 2018278), adapters.ClassRecipient, "outside_window"},
		{"500 html", 500, `<html>oops</html>`, adapters.ClassTransient, "server_error"},
		{"502 empty", 502, ``, adapters.ClassTransient, "server_error"},
		{"503 json without error", 503, `{"x":1}`, adapters.ClassTransient, "server_error"},
		{"429 empty", 429, ``, adapters.ClassRateLimited, "rate_limited"},
		{"400 html", 400, `<html>bad</html>`, adapters.ClassRequest, "invalid_request"},
		{"404 empty", 404, ``, adapters.ClassRequest, "invalid_request"},
		{"error code as string", 400, `{"error":{"code":"190"}}`, adapters.ClassRequest, "invalid_request"},
		{"unknown code 5xx", 503, graphBody(9999, 0), adapters.ClassTransient, "server_error"},
		{"unknown code 429", 429, graphBody(9999, 0), adapters.ClassRateLimited, "rate_limited"},
		{"unknown code is_transient", 400, `{"error":{"message":"x","code":9999,"is_transient":true}}`, adapters.ClassTransient, "temporary_failure"},
		{"known code beats 5xx", 500, graphBody(100, 0), adapters.ClassRequest, "invalid_request"},
		{"known code beats 200", 200, graphBody(190, 463), adapters.ClassConfig, "bad_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ae := Classify(tt.status, []byte(tt.body), nil)
			if tt.class == 0 {
				if ae != nil {
					t.Fatalf("got %v, want nil", ae)
				}
				return
			}
			if ae == nil {
				t.Fatal("nil error")
			}
			if ae.Class != tt.class || ae.Code != tt.code {
				t.Errorf("got %v %q, want %v %q", ae.Class, ae.Code, tt.class, tt.code)
			}
			if ae.HTTPStatus != tt.status {
				t.Errorf("HTTPStatus = %d", ae.HTTPStatus)
			}
		})
	}
}

func TestClassifyRetryAfter(t *testing.T) {
	buc := func(minutes ...int) string {
		s := `{"1061":[`
		for i, m := range minutes {
			if i > 0 {
				s += ","
			}
			s += fmt.Sprintf(`{"type":"messenger","call_count":100,"total_cputime":25,"total_time":25,"estimated_time_to_regain_access":%d}`, m)
		}
		return s + `],"2002":[{"type":"pages","call_count":3}]}`
	}
	tests := []struct {
		name   string
		status int
		body   string
		hdr    adapters.Header
		want   time.Duration
	}{
		{"613 Retry-After seconds", 400, graphBody(613, 0), adapters.Header{"Retry-After": "7"}, 7 * time.Second},
		{"80006 usage minutes", 400, graphBody(80006, 0), adapters.Header{"X-Business-Use-Case-Usage": buc(0, 19, 3)}, 19 * time.Minute},
		{"usage and Retry-After: the larger", 400, graphBody(613, 0), adapters.Header{"Retry-After": "30", "X-Business-Use-Case-Usage": buc(2)}, 2 * time.Minute},
		{"usage zero: default", 400, graphBody(80006, 0), adapters.Header{"X-Business-Use-Case-Usage": buc(0)}, UsageRetryAfter},
		{"usage garbage: default", 400, graphBody(613, 0), adapters.Header{"X-Business-Use-Case-Usage": "{nope"}, DefaultRetryAfter},
		{"Retry-After garbage: default", 400, graphBody(613, 0), adapters.Header{"Retry-After": "soon"}, DefaultRetryAfter},
		{"capped", 400, graphBody(4, 0), adapters.Header{"Retry-After": "999999999"}, MaxRetryAfter},
		{"bare 429 with Retry-After", 429, ``, adapters.Header{"Retry-After": "3"}, 3 * time.Second},
		{"131056 at least 6s", 400, graphBody(131056, 0), adapters.Header{"Retry-After": "1"}, PairRetryAfter},
		{"131056 longer when asked", 400, graphBody(131056, 0), adapters.Header{"Retry-After": "20"}, 20 * time.Second},
		{"not throttling: no wait", 400, graphBody(100, 0), adapters.Header{"Retry-After": "20"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := adapters.Header{}
			for k, v := range tt.hdr {
				hdr.Set(k, v)
			}
			ae := Classify(tt.status, []byte(tt.body), hdr)
			if ae == nil {
				t.Fatal("nil error")
			}
			if ae.RetryAfter != tt.want {
				t.Errorf("RetryAfter = %v, want %v", ae.RetryAfter, tt.want)
			}
		})
	}

	t.Run("HTTP date", func(t *testing.T) {
		hdr := adapters.Header{}
		hdr.Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))
		ae := Classify(429, nil, hdr)
		if ae.RetryAfter < 80*time.Second || ae.RetryAfter > 90*time.Second {
			t.Errorf("RetryAfter = %v, want about 90s", ae.RetryAfter)
		}
	})
}

func TestParseError(t *testing.T) {
	body := `{"error":{"message":"(#10) This message is sent outside of allowed window.","type":"OAuthException","code":10,"error_subcode":2018278,"fbtrace_id":"AbCd123","is_transient":false,"error_user_title":"T","error_user_msg":"U \u00e9"}}`
	g, ok := ParseError([]byte(body))
	if !ok {
		t.Fatal("not parsed")
	}
	want := GraphError{Message: "(#10) This message is sent outside of allowed window.", Type: "OAuthException", Code: 10,
		ErrorSubcode: 2018278, FBTraceID: "AbCd123", ErrorUserTitle: "T", ErrorUserMsg: "U é"}
	if *g != want {
		t.Errorf("got %+v\nwant %+v", *g, want)
	}
	if g.ChannelCode() != "10/2018278" {
		t.Errorf("ChannelCode = %q", g.ChannelCode())
	}
	for _, bad := range []string{``, `null`, `[]`, `{"error":"x"}`, `{"error":{}}`, `{"error":{"code":"1"}}`, `{"data":[]}`} {
		if _, ok := ParseError([]byte(bad)); ok {
			t.Errorf("ParseError(%q) = ok", bad)
		}
	}
}

func TestClassifyUserMessage(t *testing.T) {
	ae := Classify(400, []byte(`{"error":{"code":100,"error_user_msg":"shown to users"}}`), nil)
	if ae.Message != "shown to users" || ae.ChannelCode != "100" {
		t.Errorf("got %q %q", ae.Message, ae.ChannelCode)
	}
}

func BenchmarkClassify(b *testing.B) {
	body := []byte(graphBody(10, 2018278))
	b.ReportAllocs()
	for b.Loop() {
		_ = Classify(400, body, nil)
	}
}

func FuzzClassify(f *testing.F) {
	f.Add(400, []byte(graphBody(10, 2018278)), "7", `{"1":[{"estimated_time_to_regain_access":3}]}`)
	f.Add(200, []byte(`{"recipient_id":"1","message_id":"m_1"}`), "", "")
	f.Add(503, []byte(`<html>`), "Mon, 02 Jan 2006 15:04:05 GMT", "[]")
	f.Fuzz(func(t *testing.T, status int, body []byte, retry, usage string) {
		hdr := adapters.Header{}
		hdr.Set("Retry-After", retry)
		hdr.Set("X-Business-Use-Case-Usage", usage)
		ae := Classify(status, body, hdr)
		if ae == nil {
			if status < 200 || status >= 300 {
				t.Fatalf("status %d classified as success", status)
			}
			return
		}
		if ae.Class < adapters.ClassTransient || ae.Class > adapters.ClassConfig || ae.Code == "" {
			t.Fatalf("bad classification %+v", ae)
		}
		if ae.RetryAfter < 0 || ae.RetryAfter > MaxRetryAfter {
			t.Fatalf("RetryAfter %v", ae.RetryAfter)
		}
	})
}
