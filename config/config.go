package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Channel names, as used in `channel:` and in webhook routes.
const (
	ChannelMessenger = "messenger"
	ChannelInstagram = "instagram"
	ChannelWhatsApp  = "whatsapp"
	ChannelTelegram  = "telegram"
	ChannelViber     = "viber"
	ChannelWeb       = "web"
)

// channels lists the channel names a connection may take.
var channels = []string{ChannelMessenger, ChannelInstagram, ChannelWhatsApp, ChannelTelegram, ChannelViber, ChannelWeb}

// BuiltinEcho is the backend URL of the built-in echo bot, which answers
// every text with a reply that repeats it. The embedded default uses it.
const BuiltinEcho = "builtin:echo"

// Config is the whole file.
type Config struct {
	Listen      string       `yaml:"listen"`
	APITokens   []string     `yaml:"api_tokens"`
	Backend     Backend      `yaml:"backend"`
	Store       Store        `yaml:"store"`
	Limits      Limits       `yaml:"limits"`
	Outbound    Outbound     `yaml:"outbound"`
	Log         Log          `yaml:"log"`
	Identity    Identity     `yaml:"identity"`
	Connections []Connection `yaml:"connections"`
}

// Identity configures the identity model (DESIGN §6).
type Identity struct {
	// Key keys the derivation of a provided id's visitor id
	// ("v_" + base32(HMAC-SHA256(key, "provided\x00" + id))), so every
	// instance sharing the key derives the same visitor id without
	// coordination. Empty means a random per-install key, made once and
	// kept in the store. Changing it later re-derives nothing already
	// stored, but instances must agree on it.
	Key string `yaml:"key"`
}

// Backend is the bot backend events are forwarded to (DESIGN §4).
type Backend struct {
	URL     string        `yaml:"url"`
	Secret  string        `yaml:"secret"`
	Timeout time.Duration `yaml:"timeout"`
	// Concurrency bounds the events in flight to the backend at once;
	// events of one response path are always sent one at a time.
	Concurrency int `yaml:"concurrency"`
	// RetryMin and RetryMax bound the exponential backoff between
	// attempts to deliver one event.
	RetryMin time.Duration `yaml:"retry_min"`
	RetryMax time.Duration `yaml:"retry_max"`
	// Batch, above 1, sends up to that many events in one POST
	// ({"events": [...]}, see README "Batching"); 0 or 1 posts each event
	// on its own (DESIGN §4). Events of one response path are never in
	// the same batch, so their order holds.
	Batch int `yaml:"batch"`
	// BatchWait is how long the first event of a batch waits for others
	// while events come close together (the one before it came within
	// BatchWait); after a quiet spell an event goes out at once.
	BatchWait time.Duration `yaml:"batch_wait"`
}

// Store is where durable state lives.
type Store struct {
	Driver string `yaml:"driver"` // embedded
	Path   string `yaml:"path"`
	// DedupTTL is how long an event id is remembered for deduplication.
	// Unset, each event is remembered for its channel's redelivery window
	// (Config.DedupTTLFor: 36 h for Messenger and Instagram, 24 h
	// Telegram, 1 h Viber, 7 days WhatsApp and the web widget), and
	// DedupTTL becomes the longest of the configured channels' (dedupTTL),
	// the store's limit.
	DedupTTL time.Duration `yaml:"dedup_ttl"`
	// perChannelTTL: DedupTTL was unset, so each connection's events are
	// remembered for their own channel's window (Config.DedupTTLFor).
	perChannelTTL bool
	// CacheItems bounds the ristretto cache in front of the store.
	CacheItems int64 `yaml:"cache_items"`
	// CommitInterval, under load, is the least time between two commits
	// (store.Options.CommitInterval): fewer fsyncs for the same writes, at
	// up to this much latency. 0s turns it off; unset means
	// DefaultCommitInterval.
	CommitInterval *time.Duration `yaml:"commit_interval"`
}

// Limits guard the inbound side.
type Limits struct {
	MaxBodyBytes int `yaml:"max_body_bytes"`
}

// Outbound tunes reply delivery.
type Outbound struct {
	// Concurrency bounds the channel API calls in flight at once.
	Concurrency int `yaml:"concurrency"`
	// EnforceWindow refuses replies outside a channel's messaging window
	// (Messenger's 24 hours) before calling the provider.
	EnforceWindow *bool `yaml:"enforce_window"`
	// Timeout bounds one channel API call.
	Timeout time.Duration `yaml:"timeout"`
	Breaker Breaker       `yaml:"breaker"`
}

// Breaker tunes the circuit breaker of each (channel, bot).
type Breaker struct {
	// Failures is how many consecutive transient failures open it.
	Failures uint32 `yaml:"failures"`
	// OpenFor is how long it stays open before letting a probe through.
	OpenFor time.Duration `yaml:"open_for"`
	// Interval resets the counts while closed.
	Interval time.Duration `yaml:"interval"`
}

// Log sets the structured logger.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

// Connection is one configured channel endpoint. Exactly one of the typed
// sections is set, chosen by Channel.
type Connection struct {
	Name      string
	Channel   string
	Messenger *Messenger
	Instagram *Instagram
	WhatsApp  *WhatsApp
	Telegram  *Telegram
	Viber     *Viber
	Web       *Web
}

// Account is a bot identity on a Meta channel and the token to send as it.
type Account struct {
	ID          string `yaml:"id"`
	AccessToken string `yaml:"access_token"`
}

// Meta holds what Messenger, Instagram and WhatsApp share.
type Meta struct {
	AppSecret   string `yaml:"app_secret"`
	VerifyToken string `yaml:"verify_token"`
	// AppID is this app's id; echoes of its own sends are marked as such.
	AppID   string `yaml:"app_id"`
	APIBase string `yaml:"api_base"`
}

// SendBatching gathers the Send API calls of a Messenger or Instagram
// connection into Graph batch requests (README "Batching").
type SendBatching struct {
	// SendBatch, 2 to 50 (Graph's limit), sends up to that many replies,
	// each to a different conversation, in one batch request; 0 or 1
	// sends each on its own.
	SendBatch int `yaml:"send_batch"`
	// SendBatchWait is how long the first reply of a batch waits for
	// others while replies come close together (the one before it came
	// within SendBatchWait); after a quiet spell a reply goes out at once.
	SendBatchWait time.Duration `yaml:"send_batch_wait"`
}

// Messenger is a Facebook Page connection.
type Messenger struct {
	Meta         `yaml:",inline"`
	SendBatching `yaml:",inline"`
	Pages        []Account `yaml:"pages"`
}

// Instagram is an Instagram professional account connection.
type Instagram struct {
	Meta         `yaml:",inline"`
	SendBatching `yaml:",inline"`
	Accounts     []Account `yaml:"accounts"`
}

// WhatsApp is a WhatsApp Cloud API connection.
type WhatsApp struct {
	Meta         `yaml:",inline"`
	PhoneNumbers []Account `yaml:"phone_numbers"`
}

// Telegram is one Telegram bot.
type Telegram struct {
	Token       string `yaml:"token"`
	SecretToken string `yaml:"secret_token"`
	APIBase     string `yaml:"api_base"`
}

// Viber is one Viber bot.
type Viber struct {
	BotID     string `yaml:"bot_id"`
	AuthToken string `yaml:"auth_token"`
	APIBase   string `yaml:"api_base"`
}

// Web is one web-widget bot (DESIGN §7). Zero values of the optional
// fields mean the defaults named beside them; they are applied by the web
// channel, not by SetDefaults, so a config written before they existed
// reads back unchanged.
type Web struct {
	BotID string `yaml:"bot_id"`
	// IdentitySecret keys user_hash = hex(HMAC-SHA256(secret, id)), the
	// legacy proof of an identified visitor. Never sent to a browser.
	IdentitySecret string `yaml:"identity_secret"`
	// AllowedOrigins are the page origins (scheme://host[:port]) allowed to
	// call the widget routes; the gateway's own origin always is. "*"
	// allows any.
	AllowedOrigins []string `yaml:"allowed_origins"`
	APIBase        string   `yaml:"api_base"`
	// JWTKeys verify identity JWTs (HS256) signed by the customer's
	// backend; the header's kid picks the key, so keys rotate by adding the
	// new one before signing with it and removing the old one after.
	// Without keys, JWT proofs are refused: identity_secret is never used
	// for JWTs (a user_hash of an attacker-chosen id would otherwise be a
	// JWT signature).
	JWTKeys []JWTKey `yaml:"jwt_keys"`
	// JWTAudience is the aud every identity JWT must carry; empty means
	// the bot_id.
	JWTAudience string `yaml:"jwt_audience"`
	// JWTIssuer, when set, is the iss every identity JWT must carry.
	JWTIssuer string `yaml:"jwt_issuer"`
	// SessionTTL is how long a widget session token lives after its last
	// use (sliding); 0 means 24h.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// SessionsPerMinute bounds session creation per client address; 0
	// means 30 (with a burst of the same size).
	SessionsPerMinute int `yaml:"sessions_per_minute"`
}

// JWTKey is one HS256 key of a web connection.
type JWTKey struct {
	KID    string `yaml:"kid"`
	Secret string `yaml:"secret"`
}

//go:embed default.yaml
var defaultYAML []byte

// Default returns the embedded default configuration: listen on :8080, an
// embedded store under ./data, the built-in echo backend and a demo
// Messenger connection.
func Default() (*Config, error) { return Parse(bytes.NewReader(defaultYAML)) }

// DefaultYAML is the text of the embedded default, for printing.
func DefaultYAML() []byte { return defaultYAML }

// Load reads, expands, defaults and validates the file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return Parse(f)
}

// Parse reads a configuration from r, expands ${ENV} references in its
// values, applies defaults and validates it. Every problem found in one
// stage is reported together, each naming its key.
func Parse(r io.Reader) (*Config, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(r)
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("config: empty file")
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	var problems []string
	expandEnv(&root, "", &problems)
	checkKeys(&root, reflect.TypeFor[Config](), "", &problems)
	if len(problems) > 0 {
		return nil, errors.New("config: " + strings.Join(problems, "; "))
	}
	var c Config
	if err := decodeStrict(&root, &c, ""); err != nil {
		return nil, err
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// expandEnv replaces ${VAR} and ${VAR:-default} in every scalar value (not
// in keys), and $${ by a literal ${. As in the shell, ${VAR} of a variable
// set to "" is "", while ${VAR:-default} gives the default for an unset or
// empty variable. An unset variable without a default is a problem naming
// the key and the variable, never a value.
//
// Expansion works on the parsed document, so an expanded value can never
// change the YAML structure (a secret holding ": " or "#" stays one value).
// The flip side: in flow style, as in {secret: ${X}}, the reference must be
// quoted, since a plain flow scalar cannot contain "{" or "}".
func expandEnv(n *yaml.Node, key string, problems *[]string) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, c := range n.Content {
			k := key
			if n.Kind == yaml.SequenceNode {
				k = fmt.Sprintf("%s[%d]", key, i)
			}
			expandEnv(c, k, problems)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expandEnv(n.Content[i+1], joinKey(key, n.Content[i].Value), problems)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		v, err := expandString(n.Value)
		if err != "" {
			*problems = append(*problems, keyName(key)+": "+err)
			return
		}
		n.Value = v
		// Resolve the tag again from the expanded text, quoted or not, so
		// that "${N}" can fill an int, bool or duration field; string fields
		// take any scalar's text as is. Text that would resolve to null
		// ("null", "~") stays a string; an empty result is null, so the
		// field keeps its default. An explicit tag (!!str "${X}") is kept.
		if n.Style&yaml.TaggedStyle == 0 {
			n.Tag = (&yaml.Node{Kind: yaml.ScalarNode, Value: v}).ShortTag()
			if n.Tag == "!!null" && v != "" {
				n.Tag = "!!str"
			}
		}
	}
}

// expandString expands the references in s. The problem it returns names
// variables only: s may hold a secret around the reference.
func expandString(s string) (string, string) {
	var b strings.Builder
	var missing []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		if i > 0 && s[i-1] == '$' { // $${ is a literal ${
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", "unterminated ${ (write $${ for a literal ${)"
		}
		ref := s[i+2 : i+end]
		s = s[i+end+1:]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !isEnvName(name) {
			return "", "invalid environment reference (want ${NAME} or ${NAME:-default}; write $${ for a literal ${)"
		}
		val, ok := os.LookupEnv(name)
		switch {
		case hasDef && val == "":
			val = def
		case !ok:
			missing = append(missing, name)
		}
		b.WriteString(val)
	}
	switch len(missing) {
	case 0:
		return b.String(), ""
	case 1:
		return "", "environment variable " + missing[0] + " is not set"
	}
	return "", "environment variables " + strings.Join(missing, ", ") + " are not set"
}

// isEnvName reports whether s is a POSIX environment variable name.
func isEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// keyName is key as errors print it.
func keyName(key string) string {
	if key == "" {
		return "(top level)"
	}
	return key
}

func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}
