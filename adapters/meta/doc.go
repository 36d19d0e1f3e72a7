// Package meta is what Messenger, Instagram and the WhatsApp Cloud API
// share (channels/meta.md): the hub.challenge handshake, the
// X-Hub-Signature-256 check over the raw body, and the Graph API error
// envelope with its classification for dispatch. Channel adapters embed
// these instead of copying them.
package meta
