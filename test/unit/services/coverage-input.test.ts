/**
 * Catalogue coverage in the ranking panel's input: each variant's distinct items over the
 * largest catalogue any variant served from, or "not measured" when a variant has no markers.
 */
import { describe, expect, it } from 'vitest';
import { COVERAGE_NOT_MEASURED, coverageInput } from '../../../lambdas/services/metric-panel-input.ts';

describe('coverageInput', () => {
  it('divides by the largest catalogue any variant served from', () => {
    // Act
    const coverage = coverageInput(['control', 'treatment'], {
      control: { distinctItems: 40, catalogueSize: 100 },
      treatment: { distinctItems: 90, catalogueSize: 120 },
    });

    // Assess
    expect(coverage).toEqual({ status: 'ok', catalogueSize: 120, distinctItemsShown: [40, 90] });
  });

  it('is not measured while a variant has no markers, or without the markers at all', () => {
    // Act
    const partly = coverageInput(['control', 'treatment'], {
      control: { distinctItems: 40, catalogueSize: 100 },
      treatment: { distinctItems: 0, catalogueSize: 0 },
    });
    const none = coverageInput(['control', 'treatment'], undefined);

    // Assess
    expect(partly).toEqual({ status: 'not-measured', reason: COVERAGE_NOT_MEASURED });
    expect(none).toEqual({ status: 'not-measured', reason: COVERAGE_NOT_MEASURED });
  });

  it('never reports more distinct items than the catalogue holds (markers of items since removed)', () => {
    // Act
    const coverage = coverageInput(['control'], { control: { distinctItems: 130, catalogueSize: 120 } });

    // Assess
    expect(coverage).toEqual({ status: 'ok', catalogueSize: 120, distinctItemsShown: [120] });
  });
});
