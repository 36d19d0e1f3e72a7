// Package messenger is the Facebook Messenger (Pages) channel: it verifies
// and parses Messenger webhooks into canonical events, and renders
// canonical replies into Send API calls. The Meta parts it shares with
// Instagram and WhatsApp live in adapters/meta. See README.md for what it
// supports and how it degrades.
package messenger
