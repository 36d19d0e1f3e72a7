package normalize

import (
	"errors"
	"strings"
)

// pathSep separates the bot id from the channel id in a response path.
const pathSep = "/c/"

// ErrBadResponsePath is returned by ParseResponsePath for a path that lacks
// the "/c/" separator or has an empty half.
var ErrBadResponsePath = errors.New("normalize: bad response path")

// ResponsePath addresses one conversation: "{bot_id}/c/{channel_id}".
//
// Bot ids never contain "/c/", so the path splits on the first separator
// only; the channel id may contain anything, "/ + =" included (Viber ids do).
type ResponsePath string

// BuildResponsePath joins a bot id and a channel id.
func BuildResponsePath(botID, channelID string) ResponsePath {
	return ResponsePath(botID + pathSep + channelID)
}

// AppendResponsePath appends "{bot_id}/c/{channel_id}" to dst.
func AppendResponsePath(dst []byte, botID, channelID string) []byte {
	dst = append(dst, botID...)
	dst = append(dst, pathSep...)
	return append(dst, channelID...)
}

// ParseResponsePath splits s into its bot id and channel id.
func ParseResponsePath(s string) (botID, channelID string, err error) {
	i := strings.Index(s, pathSep)
	if i <= 0 || i+len(pathSep) == len(s) {
		return "", "", ErrBadResponsePath
	}
	return s[:i], s[i+len(pathSep):], nil
}

// BotID returns the bot half of p, or "" when p is malformed.
func (p ResponsePath) BotID() string {
	b, _, _ := ParseResponsePath(string(p))
	return b
}

// ChannelID returns the channel half of p, or "" when p is malformed.
func (p ResponsePath) ChannelID() string {
	_, c, _ := ParseResponsePath(string(p))
	return c
}
