// Package instagram is the Instagram Messaging channel (the Messenger
// API for Instagram, Facebook-login flavour): it verifies and parses
// Instagram webhooks into canonical events, and renders canonical replies
// into Send API calls made with the linked Page's token.
//
// Instagram is Messenger's sibling on the same Graph API, so this package
// holds only what differs: the webhook object ("instagram"), the event id
// prefix, entry.changes[] (comments, mentions) kept as unknown events, and
// the Send API as Instagram accepts it (text ≤ 1000 bytes, text-only quick
// replies, no media template, no one-time notifications, like_heart).
// Everything else — signature and handshake, the messaging[] envelope and
// its event mapping, rendering, the wire types, the Graph error
// classification and the 24-hour window — is adapters/meta's, shared with
// adapters/messenger. See README.md for what it supports and how it
// degrades.
package instagram
