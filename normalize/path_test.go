package normalize

import (
	"errors"
	"testing"
)

func TestParseResponsePath(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		bot, chat string
		wantErr   bool
	}{
		{name: "messenger", in: "1061234567/c/2345678901234567", bot: "1061234567", chat: "2345678901234567"},
		{name: "telegram group", in: "7012345678/c/-1001234567890", bot: "7012345678", chat: "-1001234567890"},
		{name: "viber id with + / =", in: "sbbot/c/01234567+abc/DEF==", bot: "sbbot", chat: "01234567+abc/DEF=="},
		{name: "channel id contains /c/", in: "bot/c/a/c/b", bot: "bot", chat: "a/c/b"},
		{name: "channel id starts with /c/", in: "bot/c//c/", bot: "bot", chat: "/c/"},
		{name: "channel id is c", in: "bot/c/c", bot: "bot", chat: "c"},
		{name: "web visitor", in: "site/c/v_9f8e7d", bot: "site", chat: "v_9f8e7d"},
		{name: "unicode", in: "бот/c/чат", bot: "бот", chat: "чат"},
		{name: "bot id with slash", in: "a/b/c/d", bot: "a/b", chat: "d"},
		{name: "empty", in: "", wantErr: true},
		{name: "separator only", in: "/c/", wantErr: true},
		{name: "empty bot", in: "/c/123", wantErr: true},
		{name: "empty channel", in: "123/c/", wantErr: true},
		{name: "no separator", in: "123456", wantErr: true},
		{name: "single slash", in: "123/456", wantErr: true},
		{name: "other letter", in: "123/d/456", wantErr: true},
		{name: "upper case C", in: "123/C/456", wantErr: true},
		{name: "missing trailing slash", in: "123/c", wantErr: true},
		{name: "missing leading slash", in: "123c/456", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bot, chat, err := ParseResponsePath(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrBadResponsePath) {
					t.Fatalf("ParseResponsePath(%q) err = %v, want ErrBadResponsePath", tt.in, err)
				}
				if bot != "" || chat != "" {
					t.Errorf("ParseResponsePath(%q) = %q, %q with an error, want empty halves", tt.in, bot, chat)
				}
				p := ResponsePath(tt.in)
				if p.BotID() != "" || p.ChannelID() != "" {
					t.Errorf("ResponsePath(%q): BotID %q, ChannelID %q, want both empty", tt.in, p.BotID(), p.ChannelID())
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseResponsePath(%q): %v", tt.in, err)
			}
			if bot != tt.bot || chat != tt.chat {
				t.Errorf("ParseResponsePath(%q) = %q, %q; want %q, %q", tt.in, bot, chat, tt.bot, tt.chat)
			}
			p := ResponsePath(tt.in)
			if p.BotID() != tt.bot || p.ChannelID() != tt.chat {
				t.Errorf("ResponsePath(%q): BotID %q, ChannelID %q; want %q, %q", tt.in, p.BotID(), p.ChannelID(), tt.bot, tt.chat)
			}
		})
	}
}

func TestResponsePathRoundTrip(t *testing.T) {
	tests := []struct{ bot, chat string }{
		{"1061234567", "2345678901234567"},
		{"7012345678", "-1001234567890"},
		{"sbbot", "01234567+abc/DEF=="},
		{"bot", "a/c/b"},
		{"bot", "/c/"},
		{"bot", "/c//c/"},
		{"site", "visitor with spaces"},
		{"b", "c"},
	}
	for _, tt := range tests {
		p := BuildResponsePath(tt.bot, tt.chat)
		if want := tt.bot + "/c/" + tt.chat; string(p) != want {
			t.Errorf("BuildResponsePath(%q, %q) = %q, want %q", tt.bot, tt.chat, p, want)
		}
		if got := AppendResponsePath([]byte("prefix:"), tt.bot, tt.chat); string(got) != "prefix:"+string(p) {
			t.Errorf("AppendResponsePath(%q, %q) = %q, want %q", tt.bot, tt.chat, got, "prefix:"+string(p))
		}
		bot, chat, err := ParseResponsePath(string(p))
		if err != nil || bot != tt.bot || chat != tt.chat {
			t.Errorf("ParseResponsePath(%q) = %q, %q, %v; want %q, %q", p, bot, chat, err, tt.bot, tt.chat)
		}
		if p.BotID() != tt.bot || p.ChannelID() != tt.chat {
			t.Errorf("%q: BotID %q, ChannelID %q; want %q, %q", p, p.BotID(), p.ChannelID(), tt.bot, tt.chat)
		}
	}
}

func TestAppendResponsePathReusesBuffer(t *testing.T) {
	buf := make([]byte, 0, 64)
	out := AppendResponsePath(buf, "1061234567", "2345678901234567")
	if &out[0] != &buf[:1][0] {
		t.Error("AppendResponsePath reallocated a buffer with room to spare")
	}
}

func FuzzParseResponsePath(f *testing.F) {
	for _, s := range []string{"1/c/2", "b/c/a/c/b", "/c/", "x", "bot/c/+/=", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		bot, chat, err := ParseResponsePath(s)
		if err != nil {
			return
		}
		if bot == "" || chat == "" {
			t.Fatalf("ParseResponsePath(%q) accepted an empty half: %q, %q", s, bot, chat)
		}
		if string(BuildResponsePath(bot, chat)) != s {
			t.Fatalf("BuildResponsePath(ParseResponsePath(%q)) = %q", s, BuildResponsePath(bot, chat))
		}
		if b2, c2, err := ParseResponsePath(string(BuildResponsePath(bot, chat))); err != nil || b2 != bot || c2 != chat {
			t.Fatalf("round trip of %q: %q, %q, %v", s, b2, c2, err)
		}
	})
}
