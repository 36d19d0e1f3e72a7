package config

import (
	"strings"
	"testing"
)

// FuzzParse checks that no input panics Parse, and that what it accepts is
// valid and survives SetDefaults unchanged.
func FuzzParse(f *testing.F) {
	f.Add(designExample)
	f.Add(string(DefaultYAML()))
	f.Add("backend:\n  url: builtin:echo\n  concurrency: ${N:-4}\n")
	f.Add("backend: {url: \"https://b\", secret: \"$${x}${Y:-}\"}\nconnections: [{name: a, channel: web, bot_id: b, identity_secret: s}]\n")
	f.Add("connections:\n  - &a {name: a, channel: viber, bot_id: b, auth_token: t}\n  - *a\n")
	f.Fuzz(func(t *testing.T, src string) {
		c, err := Parse(strings.NewReader(src))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Fatalf("error without the config: prefix: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config does not validate: %v", err)
		}
		for i, cn := range c.Connections {
			n := 0
			for _, set := range []bool{cn.Messenger != nil, cn.Instagram != nil, cn.WhatsApp != nil, cn.Telegram != nil, cn.Viber != nil, cn.Web != nil} {
				if set {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("connections[%d] has %d sections", i, n)
			}
		}
	})
}
