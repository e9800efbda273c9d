#!/usr/bin/env bash
# Compiles the Java bridge (main + test sources, javac --release 11) and runs its JUnit 4 tests.
#
#   bash android_bridge/java/build.sh [--assets DIR] [--report FILE]
#
#   --assets DIR   an exported asset directory (<out>/fedmultiemo written by
#                  `python -m android_bridge.export_main`): GoldenVectorsTest verifies it and
#                  reproduces every golden vector in it (without it that test class is skipped).
#   --report FILE  GoldenVectorsTest writes its counts and maximum deviations there (JSON).
#
# Needs a JDK >= 11 and JUnit 4 + Hamcrest (Debian: openjdk-17-jdk-headless junit4); override the
# jar paths with JUNIT_JAR / HAMCREST_JAR. Everything is written under android_bridge/java/build/.
# The src/tflite source set (TFLite adapter) needs the Android/TFLite runtime and is not compiled.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
junit="${JUNIT_JAR:-/usr/share/java/junit4.jar}"
hamcrest="${HAMCREST_JAR:-/usr/share/java/hamcrest-core.jar}"
assets=""
report=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --assets) assets="$2"; shift 2 ;;
    --report) report="$2"; shift 2 ;;
    *) echo "build.sh: unknown argument '$1' (expected --assets DIR, --report FILE)" >&2; exit 2 ;;
  esac
done
command -v javac >/dev/null || { echo "build.sh: javac not found (install a JDK >= 11)" >&2; exit 3; }
for jar in "$junit" "$hamcrest"; do
  [[ -f "$jar" ]] || { echo "build.sh: $jar not found (apt-get install junit4)" >&2; exit 3; }
done

build="$here/build"
rm -rf "$build/classes" "$build/test-classes"
mkdir -p "$build/classes" "$build/test-classes"
find "$here/src/main/java" -name '*.java' | sort > "$build/main-sources.txt"
find "$here/src/test/java" -name '*.java' | sort > "$build/test-sources.txt"
javac --release 11 -encoding UTF-8 -Xlint:all -Werror -d "$build/classes" "@$build/main-sources.txt"
javac --release 11 -encoding UTF-8 -Xlint:all -Werror -cp "$build/classes:$junit:$hamcrest" \
  -d "$build/test-classes" "@$build/test-sources.txt"

classes=$(cd "$here/src/test/java" && find . -name '*Test.java' | sort | sed -e 's|^\./||' \
  -e 's|\.java$||' -e 's|/|.|g')
props=()
[[ -n "$assets" ]] && props+=("-Dfedmultiemo.assets=$assets")
[[ -n "$report" ]] && props+=("-Dfedmultiemo.golden_report=$report")
# shellcheck disable=SC2086  # one class name per word
exec java -ea "${props[@]}" -cp "$build/classes:$build/test-classes:$junit:$hamcrest" \
  org.junit.runner.JUnitCore $classes
