// Package meta is what Messenger, Instagram and the WhatsApp Cloud API
// share (channels/meta.md). Channel adapters embed or call these instead
// of copying them:
//
//   - Webhook, Signer and Handshake: the hub.challenge handshake and the
//     X-Hub-Signature-256 check over the raw body (§1, §2);
//   - MessagingParser: the {object, entry[]} webhook with messaging[] and
//     standby[] items that Messenger and Instagram send (§3, §4, §6): the
//     envelope walk, the mapping of every event kind to canonical events,
//     the id scheme and the metadata, parameterized by channel and object;
//   - SendAPI and Endpoint: the Messenger Send API (§7) as one channel
//     accepts it (limits, features, degradations), its wire types, the
//     calls and the handover protocol; SendAPI.CheckWindow is the 24-hour
//     window with HUMAN_AGENT (§9);
//   - Classify: the Graph API error envelope and its classification for
//     dispatch (§10).
//
// adapters/messenger and adapters/instagram are thin: their channel
// settings and these calls. metatest holds the test harness they share.
package meta
