package meta

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

// The Send API's rendering is exercised end to end by the golden cases of
// adapters/messenger and adapters/instagram; these are the helpers' own
// tests (moved here with the code from adapters/messenger; TestTruncate
// moved on to adapters with Truncate).

func TestIsFacebookURL(t *testing.T) {
	ok := []string{"https://facebook.com/x", "https://www.facebook.com/x", "https://business.facebook.com/1/videos/2", "http://WWW.FACEBOOK.COM/x", "https://facebook.com:443/x"}
	bad := []string{"https://facebook.com.evil.example/x", "https://evil.example/facebook.com", "https://facebook.com@evil.example/",
		"https://user@facebook.com/x", "https://notfacebook.com/x", "ftp://facebook.com/x", "facebook.com/x", "https://fbcdn.net/x", "https:///x"}
	for _, u := range ok {
		if !isFacebookURL(u) {
			t.Errorf("%s refused", u)
		}
	}
	for _, u := range bad {
		if isFacebookURL(u) {
			t.Errorf("%s accepted", u)
		}
	}
}
func TestAppendURI(t *testing.T) {
	e := &Endpoint{APIBase: "https://graph.example/v25.0/"}
	if got := string(e.appendURI(nil, PathMessages, "EAAB-x_y.z~1")); got != "https://graph.example/v25.0/me/messages?access_token=EAAB-x_y.z~1" {
		t.Errorf("plain token: %s", got)
	}
	if got := string(e.appendURI(nil, PathThreadOwner+"?recipient=1", "a+b/c=&d")); got != "https://graph.example/v25.0/me/thread_owner?recipient=1&access_token=a%2Bb%2Fc%3D%26d" {
		t.Errorf("escaped token: %s", got)
	}
}

// TestCheckWindow covers the window rule with and without one-time
// notifications (Messenger, Instagram).
func TestCheckWindow(t *testing.T) {
	withOTN, noOTN := &SendAPI{OTN: true}, &SendAPI{}
	text := &normalize.Reply{Text: "x"}
	agent := &normalize.Reply{Text: "x", Tag: TagHumanAgent}
	tests := []struct {
		name  string
		api   *SendAPI
		since time.Duration
		known bool
		r     *normalize.Reply
		otn   bool
		code  string
	}{
		{"inside", noOTN, time.Hour, true, text, false, ""},
		{"edge", noOTN, Window, true, text, false, ""},
		{"outside", noOTN, Window + time.Minute, true, text, false, "outside_window"},
		{"never", noOTN, 0, false, text, false, "outside_window"},
		{"human agent", noOTN, 3 * 24 * time.Hour, true, agent, false, ""},
		{"human agent too late", noOTN, 8 * 24 * time.Hour, true, agent, false, "outside_window"},
		{"human agent never", noOTN, 0, false, agent, false, "outside_window"},
		{"otn opens", withOTN, 0, false, text, true, ""},
		{"otn does not exist", noOTN, 0, false, text, true, "outside_window"},
		{"deprecated tag", withOTN, time.Hour, true, &normalize.Reply{Tag: "ACCOUNT_UPDATE"}, true, "tag_deprecated"},
		{"unknown tag", noOTN, 2 * Window, true, &normalize.Reply{Tag: "NOPE"}, false, "invalid_tag"},
	}
	for _, tt := range tests {
		err := tt.api.CheckWindow(tt.since, tt.known, tt.r, tt.otn)
		var re *adapters.RenderError
		switch {
		case tt.code == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.code != "" && (!errors.As(err, &re) || re.Code != tt.code):
			t.Errorf("%s: err %v, want %s", tt.name, err, tt.code)
		case tt.code != "" && !tt.api.OTN && strings.Contains(err.Error(), "one-time"):
			t.Errorf("%s: offers a one-time notification without them: %v", tt.name, err)
		}
	}
}
