package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Defaults applied by SetDefaults.
const (
	DefaultListen          = ":8080"
	DefaultMaxBodyBytes    = 1 << 20
	DefaultGraphAPIBase    = "https://graph.facebook.com/v25.0"
	DefaultTelegramAPIBase = "https://api.telegram.org"
	DefaultViberAPIBase    = "https://chatapi.viber.com/pa"
	DefaultCommitInterval  = 2 * time.Millisecond
	maxCommitInterval      = 100 * time.Millisecond
)

// SetDefaults fills every unset field with its default.
func (c *Config) SetDefaults() {
	setDefault(&c.Listen, DefaultListen)
	b := &c.Backend
	setDefault(&b.Timeout, 5*time.Second)
	setDefault(&b.Concurrency, 64)
	setDefault(&b.RetryMin, 100*time.Millisecond)
	setDefault(&b.RetryMax, 30*time.Second)
	setDefault(&b.BatchWait, time.Millisecond)
	s := &c.Store
	setDefault(&s.Driver, "embedded")
	setDefault(&s.Path, "./data")
	if s.DedupTTL == 0 {
		s.perChannelTTL = true
		s.DedupTTL = dedupTTL(c.Connections)
	}
	setDefault(&s.CacheItems, 1_000_000)
	if s.CommitInterval == nil {
		d := DefaultCommitInterval
		s.CommitInterval = &d
	}
	setDefault(&c.Limits.MaxBodyBytes, DefaultMaxBodyBytes)
	o := &c.Outbound
	setDefault(&o.Concurrency, 64)
	if o.EnforceWindow == nil {
		t := true
		o.EnforceWindow = &t
	}
	setDefault(&o.Timeout, 10*time.Second)
	setDefault(&o.Breaker.Failures, 5)
	setDefault(&o.Breaker.OpenFor, 30*time.Second)
	setDefault(&o.Breaker.Interval, time.Minute)
	setDefault(&c.Log.Level, "info")
	setDefault(&c.Log.Format, "text")
	for i := range c.Connections {
		cn := &c.Connections[i]
		switch {
		case cn.Messenger != nil:
			setDefault(&cn.Messenger.APIBase, DefaultGraphAPIBase)
			setDefault(&cn.Messenger.SendBatchWait, time.Millisecond)
		case cn.Instagram != nil:
			setDefault(&cn.Instagram.APIBase, DefaultGraphAPIBase)
			setDefault(&cn.Instagram.SendBatchWait, time.Millisecond)
		case cn.WhatsApp != nil:
			setDefault(&cn.WhatsApp.APIBase, DefaultGraphAPIBase)
		case cn.Telegram != nil:
			setDefault(&cn.Telegram.APIBase, DefaultTelegramAPIBase)
		case cn.Viber != nil:
			setDefault(&cn.Viber.APIBase, DefaultViberAPIBase)
		}
	}
}

// Redelivery windows: how long each provider may send the same event again
// (channels/meta.md §11, telegram-viber.md §1.3, §2.4). The dedup index
// must remember an event id that long, and costs disk and memory for every
// hour it remembers.
const (
	RedeliveryWhatsApp = 7 * 24 * time.Hour // "decreasing frequency for up to 7 days"
	RedeliveryGraph    = 36 * time.Hour     // Messenger, Instagram: Graph webhooks
	RedeliveryTelegram = 24 * time.Hour     // unclaimed updates are kept 24 h
	RedeliveryViber    = time.Hour          // "several times for about an hour"
)

// dedupTTL is store.dedup_ttl's default: the longest redelivery window
// among the connections' channels, and 7 days with none at all.
func dedupTTL(conns []Connection) time.Duration {
	var ttl time.Duration
	for i := range conns {
		ttl = max(ttl, redeliveryWindow(&conns[i]))
	}
	if ttl == 0 {
		return RedeliveryWhatsApp
	}
	return ttl
}

// redeliveryWindow is how long cn's provider may redeliver an event; 7
// days for the web widget, our own, which has no documented window.
func redeliveryWindow(cn *Connection) time.Duration {
	switch {
	case cn.Messenger != nil, cn.Instagram != nil:
		return RedeliveryGraph
	case cn.Telegram != nil:
		return RedeliveryTelegram
	case cn.Viber != nil:
		return RedeliveryViber
	}
	return RedeliveryWhatsApp
}

// DedupTTLFor is how long the events of cn are remembered for
// deduplication: store.dedup_ttl when it was set, else cn's channel's
// redelivery window (at most Store.DedupTTL, the longest of them). Call
// it after SetDefaults.
func (c *Config) DedupTTLFor(cn *Connection) time.Duration {
	if !c.Store.perChannelTTL {
		return c.Store.DedupTTL
	}
	return min(redeliveryWindow(cn), c.Store.DedupTTL)
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

var connName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate checks c and returns every problem found, each naming its key.
func (c *Config) Validate() error {
	var v validator
	v.required("listen", c.Listen)
	for i, t := range c.APITokens {
		v.required(fmt.Sprintf("api_tokens[%d]", i), t)
	}
	b := c.Backend
	if v.required("backend.url", b.URL) && b.URL != BuiltinEcho {
		if v.httpURL("backend.url", b.URL) {
			v.required("backend.secret", b.Secret)
		}
	}
	positive(&v, "backend.timeout", b.Timeout)
	positive(&v, "backend.concurrency", b.Concurrency)
	positive(&v, "backend.retry_min", b.RetryMin)
	if b.RetryMax < b.RetryMin {
		v.add("backend.retry_max", "must not be less than retry_min")
	}
	if b.Batch < 0 || b.Batch > 1000 {
		v.add("backend.batch", "must be 0 to 1000")
	}
	if b.Batch > 1 && b.URL == BuiltinEcho {
		v.add("backend.batch", "the built-in echo backend takes events one at a time")
	}
	positive(&v, "backend.batch_wait", b.BatchWait)
	if c.Store.Driver != "embedded" {
		v.add("store.driver", "must be embedded")
	}
	v.required("store.path", c.Store.Path)
	positive(&v, "store.dedup_ttl", c.Store.DedupTTL)
	positive(&v, "store.cache_items", c.Store.CacheItems)
	if d := c.Store.CommitInterval; d != nil && (*d < 0 || *d > maxCommitInterval) {
		v.add("store.commit_interval", fmt.Sprintf("must be between 0s and %s", maxCommitInterval))
	}
	positive(&v, "limits.max_body_bytes", c.Limits.MaxBodyBytes)
	positive(&v, "outbound.concurrency", c.Outbound.Concurrency)
	positive(&v, "outbound.timeout", c.Outbound.Timeout)
	positive(&v, "outbound.breaker.open_for", c.Outbound.Breaker.OpenFor)
	positive(&v, "outbound.breaker.interval", c.Outbound.Breaker.Interval)
	if k := c.Identity.Key; k != "" && len(k) < MinIdentityKey {
		v.add("identity.key", fmt.Sprintf("must be at least %d bytes (or empty for a per-install key)", MinIdentityKey))
	}
	names := map[string]int{}
	for i, cn := range c.Connections {
		k := fmt.Sprintf("connections[%d]", i)
		if !connName.MatchString(cn.Name) {
			if cn.Name == "" {
				v.add(k+".name", "required")
			} else {
				v.add(k+".name", "must be 1-64 letters, digits, _ or -")
			}
		} else if j, dup := names[cn.Name]; dup {
			v.add(k+".name", fmt.Sprintf("duplicates connections[%d].name", j))
		}
		names[cn.Name] = i
		switch {
		case cn.Channel == "":
			v.add(k+".channel", "required")
		case cn.Messenger != nil:
			v.meta(k, cn.Messenger.Meta)
			v.sendBatching(k, cn.Messenger.SendBatching)
			v.accounts(k+".pages", cn.Messenger.Pages)
		case cn.Instagram != nil:
			v.meta(k, cn.Instagram.Meta)
			v.sendBatching(k, cn.Instagram.SendBatching)
			v.accounts(k+".accounts", cn.Instagram.Accounts)
		case cn.WhatsApp != nil:
			v.meta(k, cn.WhatsApp.Meta)
			v.accounts(k+".phone_numbers", cn.WhatsApp.PhoneNumbers)
		case cn.Telegram != nil:
			if v.required(k+".token", cn.Telegram.Token) {
				if id, _, ok := strings.Cut(cn.Telegram.Token, ":"); !ok || !isDigits(id) {
					v.add(k+".token", "must look like <bot id>:<secret>")
				}
			}
			v.required(k+".secret_token", cn.Telegram.SecretToken)
			v.httpURL(k+".api_base", cn.Telegram.APIBase)
		case cn.Viber != nil:
			v.required(k+".bot_id", cn.Viber.BotID)
			v.required(k+".auth_token", cn.Viber.AuthToken)
			v.httpURL(k+".api_base", cn.Viber.APIBase)
		case cn.Web != nil:
			v.web(k, cn.Web)
		default:
			// The value is not echoed: no error ever quotes one.
			v.add(k+".channel", "unknown channel (want "+strings.Join(channels, ", ")+")")
		}
	}
	return v.err()
}

// Connection returns the connection named name, or nil.
func (c *Config) Connection(name string) *Connection {
	for i := range c.Connections {
		if c.Connections[i].Name == name {
			return &c.Connections[i]
		}
	}
	return nil
}

// validator collects problems; messages never include values.
type validator struct{ problems []string }

func (v *validator) add(key, msg string) { v.problems = append(v.problems, key+": "+msg) }

func (v *validator) required(key, val string) bool {
	if strings.TrimSpace(val) == "" {
		v.add(key, "required")
		return false
	}
	return true
}

func positive[T ~int | ~int64](v *validator, key string, n T) {
	if n <= 0 {
		v.add(key, "must be positive")
	}
}

func (v *validator) httpURL(key, s string) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(key, "must be an http or https URL")
		return false
	}
	return true
}

func (v *validator) meta(k string, m Meta) {
	v.required(k+".app_secret", m.AppSecret)
	v.required(k+".verify_token", m.VerifyToken)
	v.httpURL(k+".api_base", m.APIBase)
}

// MinIdentityKey and MinWebSecret are the shortest keys accepted: shorter
// HMAC keys can be guessed offline from one user_hash or visitor id.
const (
	MinIdentityKey = 16
	MinWebSecret   = 16
)

// maxSendBatch is Graph's limit of calls per batch request.
const maxSendBatch = 50

func (v *validator) sendBatching(k string, b SendBatching) {
	if b.SendBatch < 0 || b.SendBatch > maxSendBatch {
		v.add(k+".send_batch", fmt.Sprintf("must be 0 to %d (Graph's limit per batch)", maxSendBatch))
	}
	positive(v, k+".send_batch_wait", b.SendBatchWait)
}

func (v *validator) web(k string, w *Web) {
	v.required(k+".bot_id", w.BotID)
	if strings.Contains(w.BotID, "/c/") {
		v.add(k+".bot_id", "must not contain /c/")
	}
	if v.required(k+".identity_secret", w.IdentitySecret) && len(w.IdentitySecret) < MinWebSecret {
		v.add(k+".identity_secret", fmt.Sprintf("must be at least %d bytes", MinWebSecret))
	}
	for i, o := range w.AllowedOrigins {
		ok := o == "*"
		if !ok {
			u, err := url.Parse(o)
			ok = err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
				u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil
		}
		if !ok {
			v.add(fmt.Sprintf("%s.allowed_origins[%d]", k, i), "must be an origin such as https://example.com, or *")
		}
	}
	kids := map[string]bool{}
	for i, key := range w.JWTKeys {
		kk := fmt.Sprintf("%s.jwt_keys[%d]", k, i)
		if len(w.JWTKeys) > 1 && v.required(kk+".kid", key.KID) || key.KID != "" {
			if kids[key.KID] {
				v.add(kk+".kid", "duplicate")
			}
			kids[key.KID] = true
		}
		if v.required(kk+".secret", key.Secret) && len(key.Secret) < 32 {
			v.add(kk+".secret", "must be at least 32 bytes (HS256)")
		}
	}
	if w.SessionTTL < 0 {
		v.add(k+".session_ttl", "must not be negative")
	}
	if w.SessionsPerMinute < 0 {
		v.add(k+".sessions_per_minute", "must not be negative")
	}
}

func (v *validator) accounts(k string, as []Account) {
	if len(as) == 0 {
		v.add(k, "at least one required")
	}
	seen := map[string]bool{}
	for i, a := range as {
		ak := fmt.Sprintf("%s[%d]", k, i)
		if v.required(ak+".id", a.ID) {
			if seen[a.ID] {
				v.add(ak+".id", "duplicate")
			}
			seen[a.ID] = true
		}
		v.required(ak+".access_token", a.AccessToken)
	}
}

func (v *validator) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	return errors.New("config: " + strings.Join(v.problems, "; "))
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
