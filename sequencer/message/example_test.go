package message_test

import (
	"fmt"

	"github.com/touchline/touchline/sequencer/message"
)

func ExampleThreadSubject() {
	fmt.Println(message.ThreadSubject("Quick question about Q3"))
	fmt.Println(message.ThreadSubject("AW: RE: Quick question about Q3"))
	// Output:
	// Re: Quick question about Q3
	// Re: Quick question about Q3
}

func ExampleParseReturnPath() {
	key := []byte("a 32-byte key from secret.Derive") // secret.Derive(configured, "verp")
	addr := message.ReturnPath(key, 4711, 2, "bounce.acme.test")
	enrollment, step, err := message.ParseReturnPath(key, "<"+addr+">")
	fmt.Println(enrollment, step, err)
	_, _, err = message.ParseReturnPath(key, "b-aaaaaaaaaaaaaaaaaaaaaaaa@bounce.acme.test")
	fmt.Println(err != nil)
	// Output:
	// 4711 2 <nil>
	// true
}

func ExampleUnsubscribeToken() {
	key := []byte("another key, from secret.Derive.") // secret.Derive(configured, "unsubscribe")
	tok := message.UnsubscribeToken(key, 1, 99, 4711)
	workspace, lead, enrollment, err := message.ParseUnsubscribeToken(key, tok)
	fmt.Println(workspace, lead, enrollment, err)
	// Output: 1 99 4711 <nil>
}
