package traffic

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Share is one channel:kind and its weight in a mix.
type Share struct {
	Channel string
	Kind    string
	Weight  float64
}

// Mix is the proportion of webhooks of each channel and kind.
type Mix []Share

// Presets are named mixes -mix accepts besides an explicit list.
var Presets = map[string]string{
	// realistic: mostly text (some with Meta's built-in NLP block, ~1 KB),
	// some quick replies, postbacks and attachments, receipts, and batched
	// payloads (several items and entries in one POST) as Meta sends them
	// under load.
	"realistic": "messenger:text=50,messenger:text_nlp=12,messenger:quick_reply=10,messenger:postback=8," +
		"messenger:attachment=6,messenger:read=6,messenger:delivery=4,messenger:batch=4",
	// text: the Messenger text round trip of the CPU target.
	"text": "messenger:text=100",
	// telegram: private-chat updates of one Telegram bot.
	"telegram": "telegram:text=80,telegram:command=10,telegram:callback=10",
	// instagram: one professional account's Direct messages.
	"instagram": "instagram:text=64,instagram:quick_reply=10,instagram:postback=8,instagram:attachment=8,instagram:read=6,instagram:batch=4",
	// viber: one bot's messages and seen receipts.
	"viber": "viber:text=80,viber:picture=10,viber:seen=10",
	// whatsapp: one phone number's messages, and read statuses.
	"whatsapp": "whatsapp:text=70,whatsapp:button=10,whatsapp:image=10,whatsapp:read=10",
	// web: widget messages from open sessions, each reply read from the
	// session's live stream.
	"web": "web:text=80,web:quick_reply=10,web:postback=10",
}

// DefaultMix is the preset used when -mix is not given.
const DefaultMix = "realistic"

// KindsOf lists, per channel, the kinds it can generate.
var KindsOf = map[string][]string{
	MessengerName: MessengerKinds,
	TelegramName:  TelegramKinds,
	WhatsAppName:  WhatsAppKinds,
	InstagramName: InstagramKinds,
	ViberName:     ViberKinds,
	WebName:       WebKinds,
}

// ParseMix reads a preset name or a comma-separated list of
// channel:kind=weight. Weights are positive numbers; they need not sum to
// 100. Every channel and kind must exist, and each may appear once.
func ParseMix(s string) (Mix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = DefaultMix
	}
	if p, ok := Presets[s]; ok {
		s = p
	}
	var m Mix
	seen := map[string]bool{}
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("mix: item %d is empty", i+1)
		}
		name, w, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("mix: %q: want channel:kind=weight", part)
		}
		ch, kind, ok := strings.Cut(strings.TrimSpace(name), ":")
		if !ok || ch == "" || kind == "" {
			return nil, fmt.Errorf("mix: %q: want channel:kind=weight", part)
		}
		kinds, known := KindsOf[ch]
		if !known {
			return nil, fmt.Errorf("mix: unknown channel %q (have %s)", ch, strings.Join(channelNames(), ", "))
		}
		if !slices.Contains(kinds, kind) {
			return nil, fmt.Errorf("mix: channel %s has no kind %q (have %s)", ch, kind, strings.Join(kinds, ", "))
		}
		weight, err := strconv.ParseFloat(strings.TrimSpace(w), 64)
		if err != nil || weight <= 0 || weight != weight || weight > 1e9 {
			return nil, fmt.Errorf("mix: %q: weight must be a positive number", part)
		}
		key := ch + ":" + kind
		if seen[key] {
			return nil, fmt.Errorf("mix: %s appears twice", key)
		}
		seen[key] = true
		m = append(m, Share{Channel: ch, Kind: kind, Weight: weight})
	}
	return m, nil
}

// Channels lists the channels the mix uses, sorted.
func (m Mix) Channels() []string {
	var out []string
	for _, s := range m {
		if !slices.Contains(out, s.Channel) {
			out = append(out, s.Channel)
		}
	}
	sort.Strings(out)
	return out
}

// Percent returns each share's weight as a percentage of the total.
func (m Mix) Percent() map[string]float64 {
	total := 0.0
	for _, s := range m {
		total += s.Weight
	}
	out := make(map[string]float64, len(m))
	for _, s := range m {
		out[s.Channel+":"+s.Kind] = 100 * s.Weight / total
	}
	return out
}

// String writes the mix back as -mix takes it, weights normalized to 100.
func (m Mix) String() string {
	total := 0.0
	for _, s := range m {
		total += s.Weight
	}
	parts := make([]string, len(m))
	for i, s := range m {
		parts[i] = s.Channel + ":" + s.Kind + "=" + strconv.FormatFloat(100*s.Weight/total, 'g', 4, 64)
	}
	return strings.Join(parts, ",")
}

func channelNames() []string {
	var out []string
	for k := range KindsOf {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// errNoChannel is a mix naming a channel the generator was not given.
var errNoChannel = errors.New("traffic: mix names a channel with no generator")
