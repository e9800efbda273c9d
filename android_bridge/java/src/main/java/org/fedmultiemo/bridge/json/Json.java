package org.fedmultiemo.bridge.json;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small recursive-descent JSON reader (RFC 8259) plus typed accessors.
 *
 * <p>Values map to: object -> {@code LinkedHashMap<String, Object>} (a repeated key keeps the last
 * value, as Python's json does), array -> {@code ArrayList<Object>}, string -> {@code String},
 * integer literal that fits a long -> {@code Long}, any other number -> {@code Double},
 * true/false -> {@code Boolean}, null -> {@code null}. Python json's non-standard tokens
 * {@code NaN}, {@code Infinity} and {@code -Infinity} are accepted (golden vectors use them).
 * Errors throw {@link JsonException} with the line and column.
 */
public final class Json {
  private static final int MAX_DEPTH = 512;

  private final String text;
  private int pos;

  private Json(String text) {
    this.text = text;
  }

  /** Parses one JSON document (surrounding whitespace allowed). */
  public static Object parse(String text) {
    if (text == null) {
      throw new JsonException("text must be a JSON document; got null");
    }
    Json parser = new Json(text);
    parser.skipWhitespace();
    Object value = parser.readValue(0);
    parser.skipWhitespace();
    if (parser.pos != text.length()) {
      throw parser.error("unexpected trailing characters");
    }
    return value;
  }

  // ------------------------------------------------------------------------------ accessors

  /** {@code value} as a JSON object; {@code where} names it in the error. */
  @SuppressWarnings("unchecked")
  public static Map<String, Object> object(Object value, String where) {
    if (!(value instanceof Map)) {
      throw new JsonException(where + " must be a JSON object; got " + describe(value));
    }
    return (Map<String, Object>) value;
  }

  /** {@code value} as a JSON array. */
  @SuppressWarnings("unchecked")
  public static List<Object> array(Object value, String where) {
    if (!(value instanceof List)) {
      throw new JsonException(where + " must be a JSON array; got " + describe(value));
    }
    return (List<Object>) value;
  }

  /** {@code value} as a string. */
  public static String string(Object value, String where) {
    if (!(value instanceof String)) {
      throw new JsonException(where + " must be a string; got " + describe(value));
    }
    return (String) value;
  }

  /** {@code value} as a number (integer or not, NaN/Infinity included). */
  public static double number(Object value, String where) {
    if (value instanceof Long) {
      return ((Long) value).doubleValue();
    }
    if (value instanceof Double) {
      return (Double) value;
    }
    throw new JsonException(where + " must be a number; got " + describe(value));
  }

  /** {@code value} as an integer literal. */
  public static long integer(Object value, String where) {
    if (!(value instanceof Long)) {
      throw new JsonException(where + " must be an integer; got " + describe(value));
    }
    return (Long) value;
  }

  /** {@code value} as a boolean. */
  public static boolean bool(Object value, String where) {
    if (!(value instanceof Boolean)) {
      throw new JsonException(where + " must be true or false; got " + describe(value));
    }
    return (Boolean) value;
  }

  /** The value of a required key of {@code object}. */
  public static Object field(Map<String, Object> object, String key, String where) {
    if (!object.containsKey(key)) {
      throw new JsonException(where + " has no key '" + key + "'; keys are " + object.keySet());
    }
    return object.get(key);
  }

  /** A JSON array of numbers as {@code double[]}. */
  public static double[] doubles(Object value, String where) {
    List<Object> list = array(value, where);
    double[] out = new double[list.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = number(list.get(i), where + "[" + i + "]");
    }
    return out;
  }

  /** A JSON array of integers as {@code int[]}. */
  public static int[] ints(Object value, String where) {
    List<Object> list = array(value, where);
    int[] out = new int[list.size()];
    for (int i = 0; i < out.length; i++) {
      long v = integer(list.get(i), where + "[" + i + "]");
      if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
        throw new JsonException(where + "[" + i + "] must fit an int; got " + v);
      }
      out[i] = (int) v;
    }
    return out;
  }

  /** A JSON array of strings. */
  public static List<String> strings(Object value, String where) {
    List<Object> list = array(value, where);
    List<String> out = new ArrayList<>(list.size());
    for (int i = 0; i < list.size(); i++) {
      out.add(string(list.get(i), where + "[" + i + "]"));
    }
    return Collections.unmodifiableList(out);
  }

  /** A short description of a parsed value for error messages. */
  public static String describe(Object value) {
    if (value == null) {
      return "null";
    }
    if (value instanceof Map) {
      return "an object";
    }
    if (value instanceof List) {
      return "an array";
    }
    if (value instanceof String) {
      String s = (String) value;
      return "'" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "'";
    }
    return String.valueOf(value);
  }

  // ------------------------------------------------------------------------------ parser

  private Object readValue(int depth) {
    if (depth > MAX_DEPTH) {
      throw error("nesting deeper than " + MAX_DEPTH);
    }
    if (pos >= text.length()) {
      throw error("unexpected end of input");
    }
    char c = text.charAt(pos);
    switch (c) {
      case '{':
        return readObject(depth);
      case '[':
        return readArray(depth);
      case '"':
        return readString();
      case 't':
        expectWord("true");
        return Boolean.TRUE;
      case 'f':
        expectWord("false");
        return Boolean.FALSE;
      case 'n':
        expectWord("null");
        return null;
      case 'N':
        expectWord("NaN");
        return Double.NaN;
      case 'I':
        expectWord("Infinity");
        return Double.POSITIVE_INFINITY;
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          return readNumber();
        }
        throw error("unexpected character '" + c + "'");
    }
  }

  private Map<String, Object> readObject(int depth) {
    pos++; // '{'
    Map<String, Object> out = new LinkedHashMap<>();
    skipWhitespace();
    if (peek() == '}') {
      pos++;
      return out;
    }
    while (true) {
      skipWhitespace();
      if (peek() != '"') {
        throw error("expected a string key");
      }
      String key = readString();
      skipWhitespace();
      expect(':');
      skipWhitespace();
      out.put(key, readValue(depth + 1));
      skipWhitespace();
      char c = next("',' or '}'");
      if (c == '}') {
        return out;
      }
      if (c != ',') {
        pos--;
        throw error("expected ',' or '}'");
      }
    }
  }

  private List<Object> readArray(int depth) {
    pos++; // '['
    List<Object> out = new ArrayList<>();
    skipWhitespace();
    if (peek() == ']') {
      pos++;
      return out;
    }
    while (true) {
      skipWhitespace();
      out.add(readValue(depth + 1));
      skipWhitespace();
      char c = next("',' or ']'");
      if (c == ']') {
        return out;
      }
      if (c != ',') {
        pos--;
        throw error("expected ',' or ']'");
      }
    }
  }

  private String readString() {
    pos++; // opening quote
    StringBuilder out = new StringBuilder();
    while (true) {
      char c = next("closing '\"'");
      if (c == '"') {
        return out.toString();
      }
      if (c < 0x20) {
        pos--;
        throw error("control character in string");
      }
      if (c != '\\') {
        out.append(c);
        continue;
      }
      char e = next("escape character");
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out.append(e);
          break;
        case 'b':
          out.append('\b');
          break;
        case 'f':
          out.append('\f');
          break;
        case 'n':
          out.append('\n');
          break;
        case 'r':
          out.append('\r');
          break;
        case 't':
          out.append('\t');
          break;
        case 'u':
          if (pos + 4 > text.length()) {
            throw error("truncated \\u escape");
          }
          int code = 0;
          for (int i = 0; i < 4; i++) {
            int digit = Character.digit(text.charAt(pos + i), 16);
            if (digit < 0) {
              throw error("bad \\u escape");
            }
            code = code * 16 + digit;
          }
          pos += 4;
          out.append((char) code);
          break;
        default:
          pos--;
          throw error("bad escape '\\" + e + "'");
      }
    }
  }

  private Object readNumber() {
    int start = pos;
    if (peek() == '-') {
      pos++;
      if (text.startsWith("Infinity", pos)) {
        pos += "Infinity".length();
        return Double.NEGATIVE_INFINITY;
      }
    }
    if (peek() == '0') {
      pos++;
    } else if (isDigit(peek())) {
      skipDigits();
    } else {
      throw error("expected a digit");
    }
    boolean integral = true;
    if (peek() == '.') {
      integral = false;
      pos++;
      if (!isDigit(peek())) {
        throw error("expected a digit after '.'");
      }
      skipDigits();
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      pos++;
      if (peek() == '+' || peek() == '-') {
        pos++;
      }
      if (!isDigit(peek())) {
        throw error("expected a digit in the exponent");
      }
      skipDigits();
    }
    String token = text.substring(start, pos);
    if (integral) {
      try {
        return Long.parseLong(token);
      } catch (NumberFormatException tooBig) {
        return Double.parseDouble(token);
      }
    }
    return Double.parseDouble(token);
  }

  private void skipDigits() {
    while (isDigit(peek())) {
      pos++;
    }
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  private char peek() {
    return pos < text.length() ? text.charAt(pos) : '\0';
  }

  private char next(String expected) {
    if (pos >= text.length()) {
      throw error("unexpected end of input; expected " + expected);
    }
    return text.charAt(pos++);
  }

  private void expect(char c) {
    if (peek() != c) {
      throw error("expected '" + c + "'");
    }
    pos++;
  }

  private void expectWord(String word) {
    if (!text.startsWith(word, pos)) {
      throw error("expected '" + word + "'");
    }
    pos += word.length();
  }

  private void skipWhitespace() {
    while (pos < text.length()) {
      char c = text.charAt(pos);
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        return;
      }
      pos++;
    }
  }

  private JsonException error(String message) {
    int line = 1;
    int column = 1;
    for (int i = 0; i < pos && i < text.length(); i++) {
      if (text.charAt(i) == '\n') {
        line++;
        column = 1;
      } else {
        column++;
      }
    }
    return new JsonException("invalid JSON at line " + line + " column " + column + ": " + message);
  }
}
