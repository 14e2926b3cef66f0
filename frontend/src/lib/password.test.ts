import { describe, expect, it } from 'vitest'

import { newPasswordState } from './password'

describe('newPasswordState', () => {
  it('says nothing before typing, then too short, then a mismatch, then valid', () => {
    expect(newPasswordState('', '')).toEqual({ tooShort: false, mismatch: false, valid: false })
    expect(newPasswordState('short', '')).toEqual({ tooShort: true, mismatch: false, valid: false })
    expect(newPasswordState('long-enough', 'long-enougH')).toEqual({
      tooShort: false,
      mismatch: true,
      valid: false,
    })
    expect(newPasswordState('long-enough', 'long-enough').valid).toBe(true)
  })
})
