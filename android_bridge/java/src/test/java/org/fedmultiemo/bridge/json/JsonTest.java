package org.fedmultiemo.bridge.json;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class JsonTest {
  @Test
  public void parsesNestedValuesWithTypes() {
    Map<String, Object> o = Json.object(Json.parse(
        " {\"a\": [1, -2.5e3, true, false, null], \"b\": {\"c\": \"x\\\"y\\u00e9\\n\"},"
            + " \"big\": 12345678901234567890, \"z\": -0}\n"), "doc");
    List<Object> a = Json.array(o.get("a"), "a");
    assertEquals(1L, a.get(0));
    assertEquals(-2500.0, a.get(1));
    assertEquals(Boolean.TRUE, a.get(2));
    assertEquals(Boolean.FALSE, a.get(3));
    assertNull(a.get(4));
    assertEquals("x\"y\u00e9\n", Json.object(o.get("b"), "b").get("c"));
    assertEquals(1.2345678901234567e19, (Double) o.get("big"), 0.0);
    assertEquals(0L, o.get("z"));
    assertEquals(Arrays.asList("a", "b", "big", "z"), Arrays.asList(o.keySet().toArray()));
  }

  @Test
  public void readsPythonNonFiniteTokensAndExactDoubles() {
    double[] v = Json.doubles(Json.parse("[NaN, Infinity, -Infinity, 0.1, 72.12345123291016]"),
        "v");
    assertTrue(Double.isNaN(v[0]));
    assertArrayEquals(new double[] {Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.1,
        72.12345123291016}, Arrays.copyOfRange(v, 1, 5), 0.0);
  }

  @Test
  public void repeatedKeyKeepsTheLastValueLikePython() {
    assertEquals(2L, Json.object(Json.parse("{\"k\": 1, \"k\": 2}"), "o").get("k"));
  }

  @Test
  public void errorsNameLineAndColumn() {
    JsonException e = assertThrows(JsonException.class, () -> Json.parse("{\n  \"a\": [1, 2,]\n}"));
    assertTrue(e.getMessage(), e.getMessage().startsWith("invalid JSON at line 2 column 14"));
    assertThrows(JsonException.class, () -> Json.parse("[1] x"));
    assertThrows(JsonException.class, () -> Json.parse("{\"a\" 1}"));
    assertThrows(JsonException.class, () -> Json.parse("\"tab\there\""));
    assertThrows(JsonException.class, () -> Json.parse("01"));
    assertThrows(JsonException.class, () -> Json.parse(""));
  }

  @Test
  public void typedAccessorsNameTheValue() {
    JsonException e = assertThrows(JsonException.class,
        () -> Json.integer(Json.parse("1.5"), "size_bytes"));
    assertEquals("size_bytes must be an integer; got 1.5", e.getMessage());
    e = assertThrows(JsonException.class,
        () -> Json.field(Json.object(Json.parse("{}"), "o"), "files", "manifest.json"));
    assertEquals("manifest.json has no key 'files'; keys are []", e.getMessage());
  }
}
