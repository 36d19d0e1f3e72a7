package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func parse(src string) (*Config, error) { return Parse(strings.NewReader(src)) }

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := parse(src)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, src)
	}
	return c
}

// parseErr parses src, which must fail, and checks that the error contains
// every string in want.
func parseErr(t *testing.T, src string, want ...string) string {
	t.Helper()
	_, err := parse(src)
	if err == nil {
		t.Fatalf("Parse succeeded, want an error containing %q\n%s", want, src)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "config: ") {
		t.Errorf("error %q lacks the config: prefix", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not contain %q", msg, w)
		}
	}
	return msg
}

// unsetenv unsets name for the duration of the test.
func unsetenv(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "") // registers the restore
	os.Unsetenv(name)
}

func TestDefault(t *testing.T) {
	unsetenv(t, "SWITCHBOARD_API_TOKEN")
	c, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	if c.Listen != ":8080" {
		t.Errorf("Listen = %q, want :8080", c.Listen)
	}
	if c.Backend.URL != BuiltinEcho {
		t.Errorf("Backend.URL = %q, want %q", c.Backend.URL, BuiltinEcho)
	}
	if c.Store.Driver != "embedded" || c.Store.Path != "./data" {
		t.Errorf("Store = %+v, want embedded at ./data", c.Store)
	}
	if diff := cmp.Diff([]string{"demo-api-token"}, c.APITokens); diff != "" {
		t.Errorf("APITokens (-want +got):\n%s", diff)
	}
	if len(c.Connections) != 2 {
		t.Fatalf("%d connections, want 2 (demo Messenger page, demo web widget)", len(c.Connections))
	}
	if w := c.Connections[1]; w.Name != "site" || w.Channel != ChannelWeb || w.Web == nil || w.Web.BotID == "" || w.Web.IdentitySecret == "" {
		t.Errorf("second connection = %+v, want a web connection named site", w)
	}
	cn := c.Connections[0]
	if cn.Name != "demo" || cn.Channel != ChannelMessenger || cn.Messenger == nil {
		t.Fatalf("connection = %+v, want a messenger connection named demo", cn)
	}
	if cn.Instagram != nil || cn.WhatsApp != nil || cn.Telegram != nil || cn.Viber != nil || cn.Web != nil {
		t.Errorf("demo connection has more than one section: %+v", cn)
	}
	m := cn.Messenger
	if m.APIBase != "http://127.0.0.1:8080/_demo/graph" {
		t.Errorf("api_base = %q", m.APIBase)
	}
	if m.AppSecret == "" || m.VerifyToken == "" || len(m.Pages) != 1 || m.Pages[0].ID != "100000000000001" || m.Pages[0].AccessToken == "" {
		t.Errorf("messenger section = %+v", m)
	}
	if c.Connection("demo") != &c.Connections[0] {
		t.Error(`Connection("demo") does not return the demo connection`)
	}
	// Defaults applied.
	if c.Backend.Timeout != 5*time.Second || c.Backend.Concurrency != 64 || c.Limits.MaxBodyBytes != DefaultMaxBodyBytes {
		t.Errorf("defaults not applied: backend %+v, limits %+v", c.Backend, c.Limits)
	}
	if c.Outbound.EnforceWindow == nil || !*c.Outbound.EnforceWindow {
		t.Error("outbound.enforce_window does not default to true")
	}
	if c.Log.Level != "info" || c.Log.Format != "text" {
		t.Errorf("Log = %+v", c.Log)
	}

	// The printed text is what Default parses.
	again := mustParse(t, string(DefaultYAML()))
	if diff := cmp.Diff(c, again, cmp.AllowUnexported(Store{})); diff != "" {
		t.Errorf("DefaultYAML parses differently from Default (-Default +DefaultYAML):\n%s", diff)
	}
}

func TestDefaultAPITokenFromEnv(t *testing.T) {
	t.Setenv("SWITCHBOARD_API_TOKEN", "tok-from-env")
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"tok-from-env"}, c.APITokens); diff != "" {
		t.Errorf("APITokens (-want +got):\n%s", diff)
	}
}

// designExample is DESIGN §8's example with its elisions filled in.
const designExample = `
listen: ":8080"
api_tokens: ["${SWITCHBOARD_API_TOKEN}"]
backend: {url: "http://127.0.0.1:9000/events", secret: "${BACKEND_SECRET}", timeout: 5s}
store: {driver: embedded, path: ./data}
connections:
  - {name: fb, channel: messenger, app_secret: "fb-app-secret", verify_token: "fb-verify",
     pages: [{id: "1061234567890123", access_token: "fb-page-token"}], api_base: "https://graph.facebook.com/v21.0"}
  - {name: ig, channel: instagram, app_secret: "ig-app-secret", verify_token: "ig-verify", accounts: [{id: "17841400000000000", access_token: "ig-token"}]}
  - {name: wa, channel: whatsapp, app_secret: "wa-app-secret", verify_token: "wa-verify", phone_numbers: [{id: "106540352242922", access_token: "wa-token"}]}
  - {name: tg, channel: telegram, token: "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", secret_token: "tg-secret"}
  - {name: vb, channel: viber, bot_id: "sbviber", auth_token: "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"}
  - {name: site, channel: web, bot_id: "site", identity_secret: "web-identity-secret", allowed_origins: ["https://example.com"]}
`

func TestParseDesignExample(t *testing.T) {
	t.Setenv("SWITCHBOARD_API_TOKEN", "api-token-1")
	t.Setenv("BACKEND_SECRET", "backend-secret-1")
	c := mustParse(t, designExample)

	if c.Listen != ":8080" {
		t.Errorf("Listen = %q", c.Listen)
	}
	if diff := cmp.Diff([]string{"api-token-1"}, c.APITokens); diff != "" {
		t.Errorf("APITokens (-want +got):\n%s", diff)
	}
	wantBackend := Backend{
		URL: "http://127.0.0.1:9000/events", Secret: "backend-secret-1", Timeout: 5 * time.Second,
		Concurrency: 64, RetryMin: 100 * time.Millisecond, RetryMax: 30 * time.Second, BatchWait: time.Millisecond,
	}
	if diff := cmp.Diff(wantBackend, c.Backend); diff != "" {
		t.Errorf("Backend (-want +got):\n%s", diff)
	}
	if c.Store.Driver != "embedded" || c.Store.Path != "./data" {
		t.Errorf("Store = %+v", c.Store)
	}

	want := []Connection{
		{Name: "fb", Channel: ChannelMessenger, Messenger: &Messenger{
			Meta:         Meta{AppSecret: "fb-app-secret", VerifyToken: "fb-verify", APIBase: "https://graph.facebook.com/v21.0"},
			SendBatching: SendBatching{SendBatchWait: time.Millisecond},
			Pages:        []Account{{ID: "1061234567890123", AccessToken: "fb-page-token"}},
		}},
		{Name: "ig", Channel: ChannelInstagram, Instagram: &Instagram{
			Meta:         Meta{AppSecret: "ig-app-secret", VerifyToken: "ig-verify", APIBase: DefaultGraphAPIBase},
			SendBatching: SendBatching{SendBatchWait: time.Millisecond},
			Accounts:     []Account{{ID: "17841400000000000", AccessToken: "ig-token"}},
		}},
		{Name: "wa", Channel: ChannelWhatsApp, WhatsApp: &WhatsApp{
			Meta:         Meta{AppSecret: "wa-app-secret", VerifyToken: "wa-verify", APIBase: DefaultGraphAPIBase},
			PhoneNumbers: []Account{{ID: "106540352242922", AccessToken: "wa-token"}},
		}},
		{Name: "tg", Channel: ChannelTelegram, Telegram: &Telegram{
			Token: "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", SecretToken: "tg-secret", APIBase: DefaultTelegramAPIBase,
		}},
		{Name: "vb", Channel: ChannelViber, Viber: &Viber{
			BotID: "sbviber", AuthToken: "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9", APIBase: DefaultViberAPIBase,
		}},
		{Name: "site", Channel: ChannelWeb, Web: &Web{
			BotID: "site", IdentitySecret: "web-identity-secret", AllowedOrigins: []string{"https://example.com"},
		}},
	}
	if diff := cmp.Diff(want, c.Connections); diff != "" {
		t.Errorf("Connections (-want +got):\n%s", diff)
	}
	for _, name := range []string{"fb", "ig", "wa", "tg", "vb", "site"} {
		if cn := c.Connection(name); cn == nil || cn.Name != name {
			t.Errorf("Connection(%q) = %v", name, cn)
		}
	}
	if c.Connection("nope") != nil {
		t.Error(`Connection("nope") is not nil`)
	}
}

func TestParseBlockStyleEverything(t *testing.T) {
	c := mustParse(t, `
listen: "127.0.0.1:9090"
api_tokens:
  - one
  - two
backend:
  url: https://bot.example.com/events
  secret: s
  timeout: 1500ms
  concurrency: 8
  retry_min: 50ms
  retry_max: 1m
store:
  driver: embedded
  path: /var/lib/switchboard
  dedup_ttl: 36h
  cache_items: 5000
  commit_interval: 0s
limits:
  max_body_bytes: 65536
outbound:
  concurrency: 16
  enforce_window: false
  timeout: 3s
  breaker:
    failures: 3
    open_for: 10s
    interval: 2m
log:
  level: debug
  format: json
connections:
  - name: fb_1
    channel: messenger
    app_secret: a
    verify_token: v
    app_id: "1234"
    pages:
      - id: "1"
        access_token: t1
      - id: "2"
        access_token: t2
`)
	no := false
	want := Config{
		Listen:    "127.0.0.1:9090",
		APITokens: []string{"one", "two"},
		Backend: Backend{URL: "https://bot.example.com/events", Secret: "s", Timeout: 1500 * time.Millisecond,
			Concurrency: 8, RetryMin: 50 * time.Millisecond, RetryMax: time.Minute, BatchWait: time.Millisecond},
		Store:  Store{Driver: "embedded", Path: "/var/lib/switchboard", DedupTTL: 36 * time.Hour, CacheItems: 5000, CommitInterval: ptr(time.Duration(0))},
		Limits: Limits{MaxBodyBytes: 65536},
		Outbound: Outbound{Concurrency: 16, EnforceWindow: &no, Timeout: 3 * time.Second,
			Breaker: Breaker{Failures: 3, OpenFor: 10 * time.Second, Interval: 2 * time.Minute}},
		Log: Log{Level: "debug", Format: "json"},
		Connections: []Connection{{Name: "fb_1", Channel: ChannelMessenger, Messenger: &Messenger{
			Meta:         Meta{AppSecret: "a", VerifyToken: "v", AppID: "1234", APIBase: DefaultGraphAPIBase},
			SendBatching: SendBatching{SendBatchWait: time.Millisecond},
			Pages:        []Account{{ID: "1", AccessToken: "t1"}, {ID: "2", AccessToken: "t2"}},
		}}},
	}
	if diff := cmp.Diff(&want, c, cmp.AllowUnexported(Store{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestMinimalConfigDefaults(t *testing.T) {
	c := mustParse(t, "backend:\n  url: builtin:echo\n")
	yes := true
	want := Config{
		Listen:  DefaultListen,
		Backend: Backend{URL: BuiltinEcho, Timeout: 5 * time.Second, Concurrency: 64, RetryMin: 100 * time.Millisecond, RetryMax: 30 * time.Second, BatchWait: time.Millisecond},
		Store: Store{Driver: "embedded", Path: "./data", DedupTTL: 7 * 24 * time.Hour, perChannelTTL: true, CacheItems: 1_000_000,
			CommitInterval: ptr(DefaultCommitInterval)},
		Limits: Limits{MaxBodyBytes: DefaultMaxBodyBytes},
		Outbound: Outbound{Concurrency: 64, EnforceWindow: &yes, Timeout: 10 * time.Second,
			Breaker: Breaker{Failures: 5, OpenFor: 30 * time.Second, Interval: time.Minute}},
		Log: Log{Level: "info", Format: "text"},
	}
	if diff := cmp.Diff(&want, c, cmp.AllowUnexported(Store{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Setenv("SB_URL", "https://bot.example.com/hook")
	t.Setenv("SB_SECRET", "p@ss: #not-a-comment\n  indented: no")
	t.Setenv("SB_HOST", "bot.example.com")
	t.Setenv("SB_EMPTY", "")
	t.Setenv("SB_NULL", "null")
	t.Setenv("SB_NUM", "12345")
	unsetenv(t, "SB_UNSET")
	c := mustParse(t, `
listen: ${SB_LISTEN:-:9999}
api_tokens:
  - ${SB_NUM}
  - "${SB_NULL}"
  - pre-${SB_UNSET:-fallback}-${SB_EMPTY:-empty}-post
  - ${SB_EMPTY}x
  - pa$word$1-${SB_NUM}
  - lit-$${SB_NUM}
backend:
  url: ${SB_URL}
  secret: ${SB_SECRET}
connections:
  - name: tg
    channel: telegram
    token: "7012345678:${SB_NUM}"
    secret_token: s
    api_base: https://${SB_HOST}/tg
`)
	if c.Listen != ":9999" {
		t.Errorf("Listen = %q", c.Listen)
	}
	wantTokens := []string{"12345", "null", "pre-fallback-empty-post", "x", "pa$word$1-12345", "lit-${SB_NUM}"}
	if diff := cmp.Diff(wantTokens, c.APITokens); diff != "" {
		t.Errorf("APITokens (-want +got):\n%s", diff)
	}
	if c.Backend.URL != "https://bot.example.com/hook" {
		t.Errorf("Backend.URL = %q", c.Backend.URL)
	}
	if c.Backend.Secret != "p@ss: #not-a-comment\n  indented: no" {
		t.Errorf("a value with YAML syntax was not kept as one value: %q", c.Backend.Secret)
	}
	tg := c.Connections[0].Telegram
	if tg.Token != "7012345678:12345" || tg.APIBase != "https://bot.example.com/tg" {
		t.Errorf("telegram = %+v", tg)
	}
}

func TestEnvExpansionTypedFields(t *testing.T) {
	t.Setenv("N", "8")
	t.Setenv("T", "3s")
	t.Setenv("F", "3")
	t.Setenv("EW", "false")
	t.Setenv("BIG", "2048")
	for _, quote := range []string{"", `"`, `'`} {
		q := func(s string) string { return quote + s + quote }
		c := mustParse(t, `
backend:
  url: builtin:echo
  concurrency: `+q("${N}")+`
  timeout: `+q("${T}")+`
  retry_max: `+q("${RM:-45s}")+`
store:
  cache_items: `+q("${BIG}")+`
limits:
  max_body_bytes: `+q("${MB:-4096}")+`
outbound:
  enforce_window: `+q("${EW}")+`
  breaker:
    failures: `+q("${F}")+`
`)
		if c.Backend.Concurrency != 8 || c.Backend.Timeout != 3*time.Second || c.Backend.RetryMax != 45*time.Second {
			t.Errorf("quote %q: backend = %+v", quote, c.Backend)
		}
		if c.Store.CacheItems != 2048 || c.Limits.MaxBodyBytes != 4096 || c.Outbound.Breaker.Failures != 3 {
			t.Errorf("quote %q: store %+v, limits %+v, breaker %+v", quote, c.Store, c.Limits, c.Outbound.Breaker)
		}
		if c.Outbound.EnforceWindow == nil || *c.Outbound.EnforceWindow {
			t.Errorf("quote %q: enforce_window not false", quote)
		}
	}

	// An empty expansion leaves the field to its default.
	t.Setenv("N", "")
	c := mustParse(t, "backend:\n  url: builtin:echo\n  concurrency: ${N}\n  timeout: \"${N:-}\"\n")
	if c.Backend.Concurrency != 64 || c.Backend.Timeout != 5*time.Second {
		t.Errorf("empty expansion: backend = %+v, want defaults", c.Backend)
	}

	// What does not fit the field is an error naming the key, not the value.
	t.Setenv("N", "eight-S3CR3T")
	msg := parseErr(t, "backend:\n  url: builtin:echo\n  concurrency: ${N}\n", "backend.concurrency: must be an integer")
	if strings.Contains(msg, "S3CR3T") {
		t.Errorf("error echoes the value: %s", msg)
	}

	// An explicit tag is kept.
	t.Setenv("N", "8")
	parseErr(t, "backend:\n  url: builtin:echo\n  concurrency: !!str ${N}\n", "backend.concurrency: must be an integer")
}

func TestEnvFlowStyleNeedsQuotes(t *testing.T) {
	t.Setenv("X", "flow-secret")
	c := mustParse(t, `backend: {url: "https://b.example.com", secret: "${X}"}`)
	if c.Backend.Secret != "flow-secret" {
		t.Errorf("Secret = %q", c.Backend.Secret)
	}
	// Unquoted, "}" ends the flow mapping: a YAML syntax error, reported
	// as such (and without the variable's value).
	_, err := parse(`backend: {url: "https://b.example.com", secret: ${X}}`)
	if err == nil {
		t.Fatal("unquoted ${X} in a flow mapping parsed")
	}
	if strings.Contains(err.Error(), "flow-secret") {
		t.Errorf("error echoes the value: %v", err)
	}
}

func TestEnvMissing(t *testing.T) {
	unsetenv(t, "SB_MISSING")
	unsetenv(t, "SB_MISSING2")
	t.Setenv("SB_PRESENT", "present-S3CR3T")
	msg := parseErr(t, `
backend:
  url: https://b.example.com
  secret: "S3CR3T-${SB_MISSING}"
`, "backend.secret: environment variable SB_MISSING is not set")
	if strings.Contains(msg, "S3CR3T") {
		t.Errorf("error echoes a value: %s", msg)
	}

	// Every missing variable is reported, with its key path.
	msg = parseErr(t, `
api_tokens:
  - ${SB_PRESENT}
  - ${SB_MISSING}
backend:
  url: https://b.example.com
  secret: ${SB_PRESENT}${SB_MISSING}${SB_MISSING2}
connections:
  - name: vb
    channel: viber
    bot_id: b
    auth_token: ${SB_MISSING2}
`,
		"api_tokens[1]: environment variable SB_MISSING is not set",
		"backend.secret: environment variables SB_MISSING, SB_MISSING2 are not set",
		"connections[0].auth_token: environment variable SB_MISSING2 is not set",
	)
	if strings.Contains(msg, "S3CR3T") {
		t.Errorf("error echoes a value: %s", msg)
	}
}

func TestEnvBadReference(t *testing.T) {
	tests := []struct{ value, want string }{
		{"S3CR3T${UNTERMINATED", "backend.secret: unterminated ${"},
		{"S3CR3T${}", "backend.secret: invalid environment reference"},
		{"S3CR3T${1ABC}", "backend.secret: invalid environment reference"},
		{"S3CR3T${A B}", "backend.secret: invalid environment reference"},
	}
	for _, tt := range tests {
		msg := parseErr(t, "backend:\n  url: https://b.example.com\n  secret: \""+tt.value+"\"\n", tt.want)
		if strings.Contains(msg, "S3CR3T") {
			t.Errorf("error echoes the value: %s", msg)
		}
	}
}

func TestEnvNotExpandedInKeys(t *testing.T) {
	t.Setenv("KEY", "listen")
	parseErr(t, "${KEY}: \":1\"\nbackend:\n  url: builtin:echo\n", "${KEY}: unknown key")
	parseErr(t, "backend:\n  url: builtin:echo\n  ${KEY}: x\n", "backend.${KEY}: unknown key")
}

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"top level", "listn: \":1\"\nbackend:\n  url: builtin:echo\n", []string{"listn: unknown key (line 1)"}},
		{"nested", "backend:\n  url: builtin:echo\n  urll: http://x\n", []string{"backend.urll: unknown key (line 3)"}},
		{"deeper", "backend:\n  url: builtin:echo\noutbound:\n  breaker:\n    failurez: 3\n", []string{"outbound.breaker.failurez: unknown key"}},
		{"connection", `
backend: {url: builtin:echo}
connections:
  - name: a
    channel: web
    bot_id: b
    identity_secret: s
  - name: b
    channel: viber
    bot_id: b
    auth_token: t
    bogus: 1
`, []string{"connections[1].bogus: unknown key (line 12)"}},
		{"key of another channel", `
backend: {url: builtin:echo}
connections:
  - {name: tg, channel: telegram, token: "1:x", secret_token: s, app_secret: nope}
`, []string{"connections[0].app_secret: unknown key"}},
		{"inside an account", `
backend: {url: builtin:echo}
connections:
  - {name: fb, channel: messenger, app_secret: a, verify_token: v, pages: [{id: "1", acess_token: t}]}
`, []string{"connections[0].pages[0].acess_token: unknown key"}},
		{"all of them at once", `
listn: x
backend:
  url: builtin:echo
  urll: y
connections:
  - {name: fb, channel: web, bot_id: b, identity_secret: s, bogus: 1, more: 2}
`, []string{"listn: unknown key", "backend.urll: unknown key", "connections[0].bogus: unknown key", "connections[0].more: unknown key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { parseErr(t, tt.src, tt.want...) })
	}
}

func TestUnknownChannelIsNotUnknownKeys(t *testing.T) {
	msg := parseErr(t, `
backend: {url: builtin:echo}
connections:
  - {name: x, channel: smoke-signals, token: "1:x", app_secret: y}
`, "connections[0].channel: unknown channel (want messenger, instagram, whatsapp, telegram, viber, web)")
	if strings.Contains(msg, "unknown key") || strings.Contains(msg, "smoke-signals") {
		t.Errorf("unknown channel reported as %q", msg)
	}
}

func TestValidationErrors(t *testing.T) {
	const fbPages = `pages: [{id: "1", access_token: t}]`
	tests := []struct {
		name, src string
		want      []string
	}{
		{"missing name", `
backend: {url: builtin:echo}
connections:
  - {channel: web, bot_id: b, identity_secret: s}
`, []string{"connections[0].name: required"}},
		{"bad name", `
backend: {url: builtin:echo}
connections:
  - {name: "a b", channel: web, bot_id: b, identity_secret: s}
`, []string{"connections[0].name: must be 1-64 letters, digits, _ or -"}},
		{"duplicate names", `
backend: {url: builtin:echo}
connections:
  - {name: a, channel: web, bot_id: b, identity_secret: s}
  - {name: a, channel: web, bot_id: c, identity_secret: s}
`, []string{"connections[1].name: duplicates connections[0].name"}},
		{"missing channel", `
backend: {url: builtin:echo}
connections:
  - {name: a}
`, []string{"connections[0].channel: required"}},
		{"unknown channel", `
backend: {url: builtin:echo}
connections:
  - {name: a, channel: web, bot_id: b, identity_secret: s}
  - {name: b, channel: icq}
`, []string{"connections[1].channel: unknown channel"}},
		{"missing app_secret", `
backend: {url: builtin:echo}
connections:
  - {name: a, channel: web, bot_id: b, identity_secret: s}
  - {name: b, channel: messenger, verify_token: v, ` + fbPages + `}
`, []string{"connections[1].app_secret: required"}},
		{"missing verify_token", `
backend: {url: builtin:echo}
connections:
  - {name: w, channel: whatsapp, app_secret: a, phone_numbers: [{id: "1", access_token: t}]}
`, []string{"connections[0].verify_token: required"}},
		{"empty pages", `
backend: {url: builtin:echo}
connections:
  - {name: a, channel: messenger, app_secret: a, verify_token: v, pages: []}
`, []string{"connections[0].pages: at least one required"}},
		{"no pages key", `
backend: {url: builtin:echo}
connections:
  - {name: a, channel: messenger, app_secret: a, verify_token: v}
`, []string{"connections[0].pages: at least one required"}},
		{"no instagram accounts", `
backend: {url: builtin:echo}
connections:
  - {name: a, channel: instagram, app_secret: a, verify_token: v}
`, []string{"connections[0].accounts: at least one required"}},
		{"no phone numbers", `
backend: {url: builtin:echo}
connections:
  - {name: a, channel: whatsapp, app_secret: a, verify_token: v}
`, []string{"connections[0].phone_numbers: at least one required"}},
		{"page without access_token", `
backend: {url: builtin:echo}
connections:
  - {name: a, channel: messenger, app_secret: a, verify_token: v, pages: [{id: "1"}]}
`, []string{"connections[0].pages[0].access_token: required"}},
		{"page without id", `
backend: {url: builtin:echo}
connections:
  - {name: a, channel: messenger, app_secret: a, verify_token: v, pages: [{access_token: t}]}
`, []string{"connections[0].pages[0].id: required"}},
		{"duplicate page id", `
backend: {url: builtin:echo}
connections:
  - {name: a, channel: messenger, app_secret: a, verify_token: v, pages: [{id: "1", access_token: t}, {id: "1", access_token: u}]}
`, []string{"connections[0].pages[1].id: duplicate"}},
		{"invalid api_base", `
backend: {url: builtin:echo}
connections:
  - {name: a, channel: messenger, app_secret: a, verify_token: v, ` + fbPages + `, api_base: "graph.facebook.com"}
`, []string{"connections[0].api_base: must be an http or https URL"}},
		{"api_base without host", `
backend: {url: builtin:echo}
connections:
  - {name: a, channel: viber, bot_id: b, auth_token: t, api_base: "https://"}
`, []string{"connections[0].api_base: must be an http or https URL"}},
		{"telegram api_base scheme", `
backend: {url: builtin:echo}
connections:
  - {name: a, channel: telegram, token: "1:x", secret_token: s, api_base: "ftp://api.telegram.org"}
`, []string{"connections[0].api_base: must be an http or https URL"}},
		{"telegram token shape", `
backend: {url: builtin:echo}
connections:
  - {name: a, channel: telegram, token: "abc:def", secret_token: s}
  - {name: b, channel: telegram, token: "12345", secret_token: s}
`, []string{"connections[0].token: must look like <bot id>:<secret>", "connections[1].token: must look like <bot id>:<secret>"}},
		{"telegram missing", `
backend: {url: builtin:echo}
connections:
  - {name: a, channel: telegram}
`, []string{"connections[0].token: required", "connections[0].secret_token: required"}},
		{"viber missing", `
backend: {url: builtin:echo}
connections:
  - {name: a, channel: viber}
`, []string{"connections[0].bot_id: required", "connections[0].auth_token: required"}},
		{"web missing", `
backend: {url: builtin:echo}
connections:
  - {name: a, channel: web}
`, []string{"connections[0].bot_id: required", "connections[0].identity_secret: required"}},
		{"backend http URL without secret", `backend: {url: "http://127.0.0.1:9000/events"}`, []string{"backend.secret: required"}},
		{"backend https URL without secret", `backend: {url: "https://bot.example.com"}`, []string{"backend.secret: required"}},
		{"backend URL missing", `listen: ":1"`, []string{"backend.url: required"}},
		{"backend URL not http", `backend: {url: "ftp://x", secret: s}`, []string{"backend.url: must be an http or https URL"}},
		{"blank api token", `
api_tokens: [ok, "  "]
backend: {url: builtin:echo}
`, []string{"api_tokens[1]: required"}},
		{"redis store", `
backend: {url: builtin:echo}
store: {driver: redis}
`, []string{"store.driver: must be embedded"}},
		{"retry bounds", `backend: {url: builtin:echo, retry_min: 10s, retry_max: 1s}`, []string{"backend.retry_max: must not be less than retry_min"}},
		{"negatives", `
backend: {url: builtin:echo, timeout: -1s, concurrency: -2, retry_min: -1ms}
store: {dedup_ttl: -1h, cache_items: -1, commit_interval: 1s}
limits: {max_body_bytes: -5}
outbound: {concurrency: -1, timeout: -1s, breaker: {open_for: -1s, interval: -1s}}
`, []string{
			"backend.timeout: must be positive", "backend.concurrency: must be positive", "backend.retry_min: must be positive",
			"store.dedup_ttl: must be positive", "store.cache_items: must be positive", "store.commit_interval: must be between 0s and 100ms", "limits.max_body_bytes: must be positive",
			"outbound.concurrency: must be positive", "outbound.timeout: must be positive",
			"outbound.breaker.open_for: must be positive", "outbound.breaker.interval: must be positive",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { parseErr(t, tt.src, tt.want...) })
	}
}

func TestSeveralProblemsInOneError(t *testing.T) {
	msg := parseErr(t, `
backend: {url: "https://bot.example.com"}
connections:
  - {name: fb, channel: messenger, verify_token: v, pages: []}
  - {name: fb, channel: telegram, token: x, secret_token: s}
  - {channel: web, bot_id: b}
`,
		"backend.secret: required",
		"connections[0].app_secret: required",
		"connections[0].pages: at least one required",
		"connections[1].name: duplicates connections[0].name",
		"connections[1].token: must look like <bot id>:<secret>",
		"connections[2].name: required",
		"connections[2].identity_secret: required",
	)
	if n := strings.Count(msg, "; ") + 1; n != 7 {
		t.Errorf("%d problems reported, want 7: %s", n, msg)
	}
	if strings.Count(msg, "config: ") != 1 {
		t.Errorf("prefix repeated: %s", msg)
	}
}

func TestTypeErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"list for a string", "listen: [S3CR3T-1, S3CR3T-2]\nbackend: {url: builtin:echo}\n", []string{"listen: must be a single value (line 1)"}},
		{"mapping for a string", "listen: {a: S3CR3T}\nbackend: {url: builtin:echo}\n", []string{"listen: must be a single value"}},
		{"word for an int", "backend: {url: builtin:echo, concurrency: S3CR3T}\n", []string{"backend.concurrency: must be an integer"}},
		{"int for a duration", "backend: {url: builtin:echo, timeout: 5}\n", []string{"backend.timeout: must be a duration"}},
		{"bad duration", "backend: {url: builtin:echo, timeout: 5 S3CR3Ts}\n", []string{"backend.timeout: must be a duration"}},
		{"negative uint", "backend: {url: builtin:echo}\noutbound: {breaker: {failures: -1}}\n", []string{"outbound.breaker.failures: must be a non-negative integer"}},
		{"word for a bool", "backend: {url: builtin:echo}\noutbound: {enforce_window: S3CR3T}\n", []string{"outbound.enforce_window: must be true or false"}},
		{"scalar for a mapping", "backend: S3CR3T\n", []string{"backend: must be a mapping"}},
		{"scalar for a list", "backend: {url: builtin:echo}\napi_tokens: S3CR3T\n", []string{"api_tokens: must be a list"}},
		{"mapping for the list", "backend: {url: builtin:echo}\nconnections: {name: S3CR3T}\n", []string{"connections: must be a list"}},
		{"scalar connection", "backend: {url: builtin:echo}\nconnections: [S3CR3T]\n", []string{"connections[0]: must be a mapping"}},
		{"list for a name", "backend: {url: builtin:echo}\nconnections: [{name: [S3CR3T], channel: web, bot_id: b, identity_secret: s}]\n", []string{"connections[0].name: must be a single value"}},
		{"scalar pages", "backend: {url: builtin:echo}\nconnections: [{name: a, channel: messenger, app_secret: x, verify_token: v, pages: S3CR3T}]\n", []string{"connections[0].pages: must be a list"}},
		{"list in a token list", "backend: {url: builtin:echo}\napi_tokens: [[S3CR3T]]\n", []string{"api_tokens[0]: must be a single value"}},
		{"top level list", "- S3CR3T\n", []string{"(top level): must be a mapping"}},
		{"top level scalar", "S3CR3T\n", []string{"(top level): must be a mapping"}},
		{"int overflow", "backend: {url: builtin:echo, concurrency: 99999999999999999999999}\n", []string{"backend.concurrency: must be an integer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := parseErr(t, tt.src, tt.want...)
			if strings.Contains(msg, "S3CR3T") {
				t.Errorf("type error echoes the value: %s", msg)
			}
		})
	}
}

// TestSecretsNeverInErrors fails configurations in many ways with a
// distinctive secret in them, directly or through the environment.
func TestSecretsNeverInErrors(t *testing.T) {
	const secret = "zq-S3CR3T-9f8e7d"
	t.Setenv("SB_SECRET", secret)
	unsetenv(t, "SB_NOPE")
	srcs := []string{
		// A validation error elsewhere in a connection holding secrets.
		`
backend: {url: "https://b.example.com", secret: "` + secret + `"}
connections:
  - {name: fb, channel: messenger, app_secret: "` + secret + `", verify_token: "` + secret + `", pages: [{id: "1"}]}
`,
		// Secrets from the environment beside a missing variable.
		`
backend:
  url: https://b.example.com
  secret: ${SB_SECRET}
connections:
  - name: tg
    channel: telegram
    token: "1:${SB_SECRET}"
    secret_token: ${SB_NOPE}
`,
		// Secrets in the values of unknown keys (keys are named, values not).
		`
backend: {url: builtin:echo, sekret: "` + secret + `"}
bogus: {nested: "` + secret + `"}
`,
		// A secret where a URL belongs.
		`
backend: {url: "` + secret + `", secret: s}
connections:
  - {name: vb, channel: viber, bot_id: b, auth_token: t, api_base: "${SB_SECRET}"}
`,
		// A telegram token without its bot id.
		`
backend: {url: builtin:echo}
connections:
  - {name: tg, channel: telegram, token: "` + secret + `", secret_token: s}
`,
		// A secret as a connection name and as a channel.
		`
backend: {url: builtin:echo}
connections:
  - {name: "` + secret + `!", channel: web, bot_id: b, identity_secret: s}
  - {name: b, channel: "` + secret + `"}
`,
		// A secret where a number or a list belongs.
		`
backend: {url: builtin:echo, concurrency: "` + secret + `", timeout: ${SB_SECRET}}
api_tokens: "` + secret + `"
outbound: {enforce_window: "` + secret + `"}
`,
		// A secret with a malformed reference.
		`
backend: {url: "https://b.example.com", secret: "` + secret + `${oops"}
`,
		// A secret in a YAML syntax error's neighbourhood.
		"backend:\n  url: builtin:echo\n  secret: \"" + secret + "\n\tbad: [\n",
	}
	for i, src := range srcs {
		_, err := parse(src)
		if err == nil {
			t.Errorf("config %d parsed", i)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "S3CR3T") {
			t.Errorf("config %d: error shows the secret: %v", i, err)
		}
	}
}

func TestEmptyFile(t *testing.T) {
	for _, src := range []string{"", "\n\n", "# only a comment\n", "   "} {
		_, err := parse(src)
		if err == nil || err.Error() != "config: empty file" {
			t.Errorf("Parse(%q) err = %v, want config: empty file", src, err)
		}
	}
	// A document that is only null is not empty, but has no backend.
	parseErr(t, "---\n", "backend.url: required")
	parseErr(t, "null\n", "backend.url: required")
}

func TestSyntaxError(t *testing.T) {
	parseErr(t, "backend: {url: builtin:echo\n", "yaml:")
	parseErr(t, "backend:\n\turl: x\n", "yaml:")
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "switchboard.yaml")
	if err := os.WriteFile(path, []byte("listen: \":7070\"\nbackend:\n  url: builtin:echo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":7070" {
		t.Errorf("Listen = %q", c.Listen)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestSetDefaultsKeepsValues(t *testing.T) {
	no := false
	c := Config{
		Listen:   ":1",
		Backend:  Backend{Timeout: time.Second, Concurrency: 2, RetryMin: time.Millisecond, RetryMax: time.Second},
		Outbound: Outbound{EnforceWindow: &no, Breaker: Breaker{Failures: 1}},
		Connections: []Connection{
			{Name: "t", Channel: ChannelTelegram, Telegram: &Telegram{APIBase: "http://tg.local"}},
			{Name: "v", Channel: ChannelViber, Viber: &Viber{}},
			{Name: "w", Channel: ChannelWeb, Web: &Web{}},
		},
	}
	c.SetDefaults()
	if c.Listen != ":1" || c.Backend.Timeout != time.Second || c.Backend.Concurrency != 2 || *c.Outbound.EnforceWindow || c.Outbound.Breaker.Failures != 1 {
		t.Errorf("SetDefaults overwrote set values: %+v", c)
	}
	if c.Connections[0].Telegram.APIBase != "http://tg.local" || c.Connections[1].Viber.APIBase != DefaultViberAPIBase {
		t.Errorf("api_base defaults: %+v, %+v", c.Connections[0].Telegram, c.Connections[1].Viber)
	}
	if c.Connections[2].Web.APIBase != "" {
		t.Errorf("web api_base got a default: %q", c.Connections[2].Web.APIBase)
	}
	// The zero config lacks only a backend.
	var z Config
	z.SetDefaults()
	if err := z.Validate(); err == nil || err.Error() != "config: backend.url: required" {
		t.Errorf("zero config: %v", err)
	}
}

// TestBackendBatch checks backend.batch's range and that the built-in
// echo bot refuses it.
func TestBackendBatch(t *testing.T) {
	base := "listen: x\nbackend: {url: %s, secret: s, batch: %d}\n"
	for _, c := range []struct {
		url   string
		batch int
		want  string
	}{
		{"http://b", 32, ""},
		{"http://b", -1, "backend.batch: must be 0 to 1000"},
		{"builtin:echo", 8, "backend.batch: the built-in echo backend"},
	} {
		cfg, err := Parse(strings.NewReader(fmt.Sprintf(base, c.url, c.batch)))
		switch {
		case c.want == "" && (err != nil || cfg.Backend.Batch != c.batch || cfg.Backend.BatchWait != time.Millisecond):
			t.Errorf("batch %d: %v %+v", c.batch, err, cfg)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("batch %d with %s: %v, want %q", c.batch, c.url, err, c.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestSendBatch checks send_batch's range on Messenger and Instagram, its
// wait's default, and that WhatsApp has no such key.
func TestSendBatch(t *testing.T) {
	base := "listen: x\nbackend: {url: http://b, secret: s}\nconnections:\n- {name: c, channel: %s, app_secret: a, verify_token: v, %s: [{id: \"1\", access_token: t}], %s}\n"
	for _, c := range []struct {
		channel, list, extra string
		batch                int
		want                 string
	}{
		{"messenger", "pages", "send_batch: 50", 50, ""},
		{"instagram", "accounts", "send_batch: 8", 8, ""},
		{"messenger", "pages", "send_batch: 51", 0, "connections[0].send_batch: must be 0 to 50"},
		{"instagram", "accounts", "send_batch: -1", 0, "connections[0].send_batch: must be 0 to 50"},
		{"messenger", "pages", "send_batch: 4, send_batch_wait: -1ms", 0, "connections[0].send_batch_wait"},
		{"whatsapp", "phone_numbers", "send_batch: 4", 0, "send_batch"},
	} {
		cfg, err := Parse(strings.NewReader(fmt.Sprintf(base, c.channel, c.list, c.extra)))
		if c.want != "" {
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s %s: %v, want %q", c.channel, c.extra, err, c.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %s: %v", c.channel, c.extra, err)
			continue
		}
		var b SendBatching
		if m := cfg.Connections[0].Messenger; m != nil {
			b = m.SendBatching
		} else {
			b = cfg.Connections[0].Instagram.SendBatching
		}
		if b.SendBatch != c.batch || b.SendBatchWait != time.Millisecond {
			t.Errorf("%s %s: %+v", c.channel, c.extra, b)
		}
	}
}

// TestDedupTTLDefault: unset, store.dedup_ttl is the longest redelivery
// window of the configured channels; set, it is kept.
func TestDedupTTLDefault(t *testing.T) {
	for _, c := range []struct {
		name  string
		conns []Connection
		want  time.Duration
	}{
		{"none", nil, 7 * 24 * time.Hour},
		{"messenger", []Connection{{Messenger: &Messenger{}}}, 36 * time.Hour},
		{"messenger and instagram", []Connection{{Messenger: &Messenger{}}, {Instagram: &Instagram{}}}, 36 * time.Hour},
		{"telegram", []Connection{{Telegram: &Telegram{}}}, 24 * time.Hour},
		{"viber", []Connection{{Viber: &Viber{}}}, time.Hour},
		{"viber and telegram", []Connection{{Viber: &Viber{}}, {Telegram: &Telegram{}}}, 24 * time.Hour},
		{"messenger and whatsapp", []Connection{{Messenger: &Messenger{}}, {WhatsApp: &WhatsApp{}}}, 7 * 24 * time.Hour},
		{"web", []Connection{{Telegram: &Telegram{}}, {Web: &Web{}}}, 7 * 24 * time.Hour},
	} {
		cfg := Config{Connections: c.conns}
		cfg.SetDefaults()
		if cfg.Store.DedupTTL != c.want {
			t.Errorf("%s: dedup_ttl %s, want %s", c.name, cfg.Store.DedupTTL, c.want)
		}
	}
	cfg := Config{Store: Store{DedupTTL: 5 * time.Hour}, Connections: []Connection{{WhatsApp: &WhatsApp{}}, {Viber: &Viber{}}}}
	cfg.SetDefaults()
	if cfg.Store.DedupTTL != 5*time.Hour {
		t.Errorf("a set dedup_ttl became %s", cfg.Store.DedupTTL)
	}
	for i := range cfg.Connections {
		if got := cfg.DedupTTLFor(&cfg.Connections[i]); got != 5*time.Hour {
			t.Errorf("a set dedup_ttl: connection %d's events kept %s, want it", i, got)
		}
	}
}

// TestDedupTTLFor: with dedup_ttl unset, each connection's events are
// remembered for their own channel's redelivery window; SetDefaults run
// twice keeps it so.
func TestDedupTTLFor(t *testing.T) {
	cfg := Config{Connections: []Connection{{Messenger: &Messenger{}}, {Instagram: &Instagram{}}, {WhatsApp: &WhatsApp{}},
		{Telegram: &Telegram{}}, {Viber: &Viber{}}, {Web: &Web{}}}}
	cfg.SetDefaults()
	cfg.SetDefaults()
	want := []time.Duration{36 * time.Hour, 36 * time.Hour, 7 * 24 * time.Hour, 24 * time.Hour, time.Hour, 7 * 24 * time.Hour}
	for i, w := range want {
		if got := cfg.DedupTTLFor(&cfg.Connections[i]); got != w {
			t.Errorf("connection %d: %s, want %s", i, got, w)
		}
	}
}
