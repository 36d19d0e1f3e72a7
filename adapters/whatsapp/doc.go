// Package whatsapp is the WhatsApp Cloud API channel: it verifies and
// parses WhatsApp Business Account webhooks (entry[].changes[].value) into
// canonical events, and renders canonical replies into
// POST /{phone-number-id}/messages calls. The handshake, the signature and
// the Graph error classification are adapters/meta's, shared with
// Messenger and Instagram; the 24-hour customer service window is
// CheckWindow's. See README.md for the mapping, the limits and how replies
// degrade.
package whatsapp
