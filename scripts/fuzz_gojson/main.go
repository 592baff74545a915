package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		data, _ := base64.StdEncoding.DecodeString(sc.Text())
		dec := json.NewDecoder(bytes.NewReader(data))
		var v interface{}
		err := dec.Decode(&v)
		if err != nil {
			fmt.Println("ERR " + err.Error())
		} else if dec.More() {
			fmt.Println("MORE")
		} else {
			fmt.Println("OK")
		}
	}
}
