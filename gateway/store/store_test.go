package store

import "testing"

// TestConversationKeySplits: a conversation key splits back into the
// connection and response path it was made of, whatever the path holds.
func TestConversationKeySplits(t *testing.T) {
	for _, c := range [][2]string{
		{"fb", "106123456789012/c/7023456789012345"},
		{"site", "bot-1/c/v_abc/def"},
		{"wa", ""},
		{"", "1/c/2"},
	} {
		conn, path := SplitConversationKey(ConversationKey(c[0], c[1]))
		if conn != c[0] || path != c[1] {
			t.Errorf("%q, %q came back as %q, %q", c[0], c[1], conn, path)
		}
	}
}
