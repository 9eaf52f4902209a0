// Command kube-validate strictly decodes Kubernetes manifests (a multi-document YAML stream on
// standard input, e.g. `helm template` output) into the Kubernetes API types: an unknown field, a
// field at the wrong level or a value of the wrong type is an error. It prints one line per object
// and exits 1 when any document does not decode.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

func blank(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) > 0 && t[0] != '#' && !bytes.Equal(t, []byte("---")) {
			return false
		}
	}
	return true
}

func main() {
	decoder := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(os.Stdin))
	valid, invalid := 0, 0
	for {
		doc, err := reader.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "kube-validate: cannot read the YAML stream: %v\n", err)
			os.Exit(2)
		}
		if blank(doc) {
			continue
		}
		obj, gvk, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			invalid++
			fmt.Printf("INVALID %v\n", err)
			continue
		}
		name := ""
		if m, err := meta.Accessor(obj); err == nil {
			name = m.GetName()
		}
		valid++
		fmt.Printf("ok %s %s %s\n", gvk.GroupVersion().String(), gvk.Kind, name)
	}
	fmt.Printf("%d valid, %d invalid\n", valid, invalid)
	if invalid > 0 || valid == 0 {
		os.Exit(1)
	}
}
