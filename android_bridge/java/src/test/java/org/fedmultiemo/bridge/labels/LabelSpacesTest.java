package org.fedmultiemo.bridge.labels;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class LabelSpacesTest {
  @Test
  public void fer7MapsOntoDriverStates() {
    double[][] m = LabelSpaces.mappingMatrix("fer7", "driver_state3");
    assertArrayEquals(new double[] {0, 0, 1}, m[0], 0.0); // angry -> negative
    assertArrayEquals(new double[] {0, 1, 0}, m[3], 0.0); // happy -> positive
    assertArrayEquals(new double[] {1, 0, 0}, m[6], 0.0); // neutral -> neutral
    double[] p = LabelSpaces.toDriverState(
        new double[] {0.1, 0.05, 0.05, 0.3, 0.1, 0.2, 0.2}, "fer7");
    assertArrayEquals(new double[] {0.2, 0.5, 0.30000000000000004}, p, 1e-15);
  }

  @Test
  public void nanPropagatesAndIdentityMapsItself() {
    double[] p = LabelSpaces.toDriverState(new double[] {Double.NaN, 0.5, 0.5}, "wesad3");
    for (double v : p) {
      assertTrue(Double.isNaN(v));
    }
    assertArrayEquals(new double[] {0.2, 0.3, 0.5},
        LabelSpaces.toDriverState(new double[] {0.2, 0.3, 0.5}, "driver_state3"), 0.0);
  }

  @Test
  public void unknownSpacesAndMappingsAreRejected() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> LabelSpaces.mappingMatrix("driver_state3", "fer7"));
    assertTrue(e.getMessage(), e.getMessage().startsWith(
        "no mapping from 'driver_state3' to 'fer7'; known mappings: [drivedb3->driver_state3"));
    e = assertThrows(IllegalArgumentException.class, () -> LabelSpaces.get("emotions"));
    assertTrue(e.getMessage(), e.getMessage().endsWith("got 'emotions'"));
    e = assertThrows(IllegalArgumentException.class,
        () -> LabelSpaces.toDriverState(new double[3], "fer7"));
    assertEquals("probs must have length 7 for label space 'fer7'; got 3", e.getMessage());
    assertEquals(2, LabelSpaces.DRIVER_STATE3.index("negative"));
    assertThrows(IllegalArgumentException.class, () -> LabelSpaces.FER7.index("calm"));
  }
}
