package traffic

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters/messenger"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

const testSecret = "traffic-test-secret"

var testPages = []string{"106100000000001", "106100000000002"}

func testAdapter() *messenger.Adapter {
	return messenger.New("bench", &config.Messenger{Meta: config.Meta{AppSecret: testSecret}})
}

// TestMessengerPayloadsParse builds every kind and checks, through the real
// adapter, that the signature verifies and that the gateway derives exactly
// the events the generator predicts: ids, people, order. If the adapter's
// id scheme changes, this fails before a bench run reports everything lost.
func TestMessengerPayloadsParse(t *testing.T) {
	m := NewMessenger("bench", []byte(testSecret), testPages, 50, 42)
	a := testAdapter()
	rnd := rand.New(rand.NewPCG(1, 2))
	var w Webhook
	// Open a conversation first, so receipts are built as receipts.
	m.Build(&w, "text", rnd)
	m.Acked(&w)
	wantType := map[string]normalize.EventType{
		"text": normalize.TypeText, "text_nlp": normalize.TypeText, "quick_reply": normalize.TypeQuickReply,
		"postback": normalize.TypePostback, "attachment": normalize.TypeAttachment,
		"read": normalize.TypeRead, "delivery": normalize.TypeDelivery,
	}
	for _, kind := range MessengerKinds {
		for range 20 { // batches vary
			w.Reset()
			m.Build(&w, kind, rnd)
			if w.Kind != kind {
				t.Fatalf("%s built as %s", kind, w.Kind)
			}
			if w.Path != "/webhooks/messenger/bench" || w.Channel != MessengerName {
				t.Fatalf("%s: path %q channel %q", kind, w.Path, w.Channel)
			}
			evs := derive(t, a, &w)
			for i, ev := range evs {
				p := w.Events[i]
				if want, ok := wantType[kind]; ok && ev.Type != want {
					t.Fatalf("%s: type %s", kind, ev.Type)
				}
				opens := ev.Type != normalize.TypeRead && ev.Type != normalize.TypeDelivery
				if p.OpensWindow != opens {
					t.Fatalf("%s: event %d (%s) OpensWindow = %v", kind, i, ev.Type, p.OpensWindow)
				}
			}
			if kind != "batch" {
				break
			}
		}
	}
}

func TestMessengerIDsUniqueAcrossWebhooksAndRuns(t *testing.T) {
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 2; seed++ {
		m := NewMessenger("bench", []byte(testSecret), testPages, 3, seed)
		rnd := rand.New(rand.NewPCG(seed, 0))
		var w Webhook
		for i := range 2000 {
			w.Reset()
			m.Build(&w, MessengerKinds[i%len(MessengerKinds)], rnd)
			m.Acked(&w)
			for _, ev := range w.Events {
				if seen[ev.ID] {
					t.Fatalf("id %s generated twice", ev.ID)
				}
				seen[ev.ID] = true
			}
		}
	}
}

func TestMessengerMidsLookReal(t *testing.T) {
	m := NewMessenger("bench", []byte(testSecret), testPages, 1, 7)
	var w Webhook
	m.Build(&w, "text", rand.New(rand.NewPCG(1, 1)))
	mid := strings.TrimPrefix(w.Events[0].ID, "messenger:")
	if len(mid) < 80 || !strings.HasPrefix(mid, "m_") {
		t.Fatalf("mid %q: Meta's are about 90 characters", mid)
	}
}

func TestReceiptsWaitForAConversation(t *testing.T) {
	m := NewMessenger("bench", []byte(testSecret), testPages, 10, 3)
	rnd := rand.New(rand.NewPCG(3, 3))
	var w Webhook
	m.Build(&w, "read", rnd)
	if w.Kind != "text" || m.Substituted.Load() != 1 {
		t.Fatalf("a read with no open conversation was built as %s", w.Kind)
	}
	user := w.Events[0].User
	m.Acked(&w)
	for range 20 {
		w.Reset()
		m.Build(&w, "delivery", rnd)
		if w.Kind != "delivery" || w.Events[0].User != user {
			t.Fatalf("delivery built as %s for %s, want the one open conversation %s", w.Kind, w.Events[0].User, user)
		}
	}
}

func TestGeneratorFollowsTheMix(t *testing.T) {
	mix := mustMix(t, "messenger:text=80,messenger:postback=20")
	m := NewMessenger("bench", []byte(testSecret), testPages, 100, 5)
	g, err := NewGenerator(mix, m)
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(5, 5))
	counts := map[string]int{}
	var w Webhook
	const n = 10000
	for range n {
		g.Next(&w, rnd)
		counts[w.Kind]++
	}
	if got := float64(counts["text"]) / n; got < 0.77 || got > 0.83 {
		t.Fatalf("text share %.3f, want about 0.8 (%v)", got, counts)
	}
	if _, err := NewGenerator(mustMix(t, "messenger:text=1"), nil...); err == nil {
		t.Fatal("a generator without the mix's channel was accepted")
	}
}
